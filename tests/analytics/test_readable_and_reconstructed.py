"""compare against a baseline, routes as short trees and diffs, and analyses that include, leave out
or keep only reconstructed traces: the same over Python, the CLI, HTTP and the UI (Chromium)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.reconstruct_data import Generated, generate
from click.testing import CliRunner
from playwright.sync_api import sync_playwright

from tracehouse.analytics import incidents, synthetic
from tracehouse.analytics.reconstruct.runner import Reconstructor
from tracehouse.analytics.report import render_text
from tracehouse.analytics.routes import MAX_TREE_LINES
from tracehouse.app.wiring import Wiring
from tracehouse.cli.doctor_cmd import render_doctor
from tracehouse.cli.main import cli
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import MakeStore, serve

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


def test_compare_against_a_baseline_ranks_what_changed_first(tmp_path: Path) -> None:
    incident = incidents.by_name("segment")
    store = DuckDBStore(tmp_path / "tracehouse.duckdb")
    try:
        for batch in incidents.generate(incident, 1000, 1000, seed=3):
            store.write_spans(batch)
        _, start, end = incidents.window(incident, 1000, 1000)
        window = {"start": str(start / 1e9), "end": str(end / 1e9), "slowest": "5%"}
        report = Analyses(store).run("compare", {**window, "baseline": "20s"})
    finally:
        store.close()
    top = report.rows[0]
    assert (top["key"], top["value"]) == ("tenant.id", "globex")
    assert top["excess"] > 25 and top["change_difference"] > 25 and top["baseline_difference"] < 10
    assert [r["excess"] for r in report.rows] == sorted((r["excess"] for r in report.rows), reverse=True)
    # Checkout's own markers make slow traces in both periods: habitual, so they rank low.
    habitual = [r for r in report.rows if r["attribute"] == "app.module=payments"]
    assert all(r["excess"] < top["excess"] / 2 for r in habitual)
    assert report.findings[0].startswith("Largest change against the baseline: tenant.id=globex")
    assert any(n.startswith("baseline: the baseline is the 20s before the window") for n in report.notes)
    assert len(report.rows) <= 30


def _wide(rng: random.Random, index: int) -> synthetic.Call:
    """One entry point whose usual route calls 3 services; every 4th request calls 150 more (a fan-out
    across shards, each its own operation) and pricing 6 times instead of once."""
    calls = [synthetic.client_server("web", "auth", "POST /verify", 1.0),
             synthetic.client_server("web", "cart", "GET /cart", 2.0)]
    calls.append(synthetic.client_server("web", "pricing", "GET /price", 1.0))
    if index % 4 == 0:
        calls += [synthetic.client_server("web", "pricing", "GET /price", 1.0)] * 5
        calls += [synthetic.client_server("web", f"shard-{i}", f"GET /shard/{i}", 0.5) for i in range(150)]
    return synthetic.Call("web", "GET /page", children=calls)


def test_routes_are_short_trees_and_diffs_against_the_usual_route(make_store: MakeStore) -> None:
    report = Analyses(make_store(_wide, 200)).run("paths", {"slowest": "10%"})
    usual = next(r for r in report.rows if r["traces"] == 150)
    wide = next(r for r in report.rows if r["traces"] == 50)
    assert usual["vs_usual"] == "(the usual route of web:GET /page)"
    assert usual["route"].splitlines() == ["web:GET /page", "  web:GET", "    cart:GET /cart", "  web:GET",
                                           "    pricing:GET /price", "  web:POST", "    auth:POST /verify"]
    # 306 spans: a tree cut at MAX_TREE_LINES lines, the rest counted.
    tree = wide["route"].splitlines()
    assert len(tree) == MAX_TREE_LINES and tree[-1].startswith("… ") and tree[-1].endswith("more lines")
    diff = wide["vs_usual"].splitlines()
    assert len(diff) <= MAX_TREE_LINES
    # Only the changes, under their callers: pricing called 6 times instead of once, new shard calls.
    assert diff[:4] == ["  web:GET /page", "~   web:GET x6 (usually x1)", "      pricing:GET /price",
                        "+   web:GET"], diff
    assert diff[4] == "+     shard-0:GET /shard/0" and not any(line.lstrip(" ~+").startswith("cart") for line in diff)
    # Sentences name a route by its entry point and first changes, never its whole tree.
    assert report.findings[0].startswith("The slowest 10% of requests")
    assert "[web:GET /page, the usual route with " in report.findings[0] and len(report.findings[0]) < 400
    text = render_text(report)
    assert max(len(line) for line in text.splitlines()) < 400
    assert "#1 web:GET /page" in text and "  against the usual route:" in text


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Generated, Path]]:
    """A store of requests whose propagation was cut (70% of them), reconstructed; and the same
    requests with propagation intact, for the truth."""
    directory = tmp_path_factory.mktemp("rebuilt")
    cut, whole = (generate("chain", 200, 0.3, seed=41, propagated=p) for p in (0.3, 1.0))
    store = DuckDBStore(directory / "data" / "tracehouse.duckdb")
    intact = DuckDBStore(directory / "whole.duckdb")
    try:
        store.write_spans(cut.table())
        intact.write_spans(whole.table())
        starts = [int(r["start"]) for r in cut.rows]  # type: ignore[call-overload]
        assert Reconstructor(store).run(min(starts), max(starts) + 1).linked > 300
    finally:
        store.close()
        intact.close()
    yield directory / "data", cut, directory / "whole.duckdb"


def test_analyses_include_leave_out_or_keep_only_reconstructed_traces(
        rebuilt: tuple[Path, Generated, Path]) -> None:
    data, cut, whole_path = rebuilt
    whole = DuckDBStore(whole_path, read_only=True)
    store = DuckDBStore(data / "tracehouse.duckdb", read_only=True)
    try:
        analyses = Analyses(store)
        truth = Analyses(whole).run("paths", {})
        received = analyses.run("paths", {})                      # as received is the default
        included = analyses.run("paths", {"reconstructed": "include"})
        left_out = analyses.run("paths", {"reconstructed": "exclude"})
        only = analyses.run("paths", {"reconstructed": "only"})
        # Included, the fragments are read as whole requests: the routes propagation would have given.
        assert [(r["route"], r["traces"]) for r in included.rows] == [(r["route"], r["traces"]) for r in truth.rows]
        assert store.count_traces(AnalysisFilter(reconstructed="include")) == 200
        fragments_apart = len({r["trace_id"] for r in cut.rows})  # type: ignore[call-overload]
        assert store.count_traces(AnalysisFilter()) == fragments_apart > 400
        assert sum(r["traces"] for r in received.rows) == fragments_apart
        counted = [sum(r["traces"] for r in rep.rows) for rep in (left_out, only)]
        assert counted[0] > 20 and counted[1] > 100 and sum(counted) == 200
        for report, mode in ((received, "received"), (included, "include"), (left_out, "exclude"), (only, "only")):
            assert report.params["reconstructed"] == mode
            assert any(n.startswith("reconstructed traces: ") and f"reconstructed={mode})" in n for n in report.notes)
        # Latency over whole requests: the fragments' callers wait on the critical path.
        assert Analyses(whole).run("latency", {}).rows[0]["service"] == \
            analyses.run("latency", {"reconstructed": "include"}).rows[0]["service"]
        # Doctor, errors, compare and origins take the option too.
        for name in ("doctor", "errors", "compare", "latency"):
            assert analyses.run(name, {"reconstructed": "exclude"}).params["reconstructed"] == "exclude"
        # An export selects by it, but hands back the spans as they were received.
        received = store.export_spans(AnalysisFilter(reconstructed="only"))
        fragments = {bytes.fromhex(t) if isinstance(t, str) else t for t in received.column("trace_id").to_pylist()}
        stored_ids = {r["trace_id"] for r in cut.rows}  # type: ignore[call-overload]
        assert len(fragments) > counted[1] and fragments <= {bytes.fromhex(t) if isinstance(t, str) else t
                                                             for t in stored_ids}
        with pytest.raises(ValueError, match="reconstructed is one of received, include, exclude, only"):
            AnalysisFilter(reconstructed="maybe")
    finally:
        store.close()
        whole.close()


def test_reconstructed_traces_agree_across_cli_api_and_ui(rebuilt: tuple[Path, Generated, Path]) -> None:
    data, _, _ = rebuilt
    runs: dict[str, dict[str, object]] = {}
    for name, args in (("paths", ["analyze", "paths"]), ("doctor", ["doctor"])):
        result = CliRunner().invoke(cli, [*args, "--data", str(data), "--reconstructed", "only", "--format", "json"],
                                    obj=Wiring(), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(result.output)
    text = CliRunner().invoke(cli, ["doctor", "--data", str(data), "--reconstructed", "exclude"], obj=Wiring(),
                              catch_exceptions=False).output
    assert "traces:   left out: traces joined by inferred links are not counted" in text
    settings = Settings().with_overrides(data_dir=data)
    service = QueryService(DuckDBStore(settings.store_path, read_only=True), settings)
    try:
        python = {n: Analyses(service.store).run(n, {"reconstructed": "only"}).to_json() for n in runs}
        assert python == runs
        with serve(service) as url:
            for name in runs:
                api = httpx.get(f"{url}/api/analyze/{name}", params={"reconstructed": "only"}, timeout=120)
                assert api.status_code == 200 and api.json() == python[name]
            bad = httpx.get(f"{url}/api/analyze/paths", params={"reconstructed": "maybe"})
            assert bad.status_code == 400 and "reconstructed is one of" in bad.json()["error"]
            assert render_doctor(Analyses(service.store).run("doctor", {"reconstructed": "exclude"}), "") + "\n" == text
            _check_the_ui(url, python["paths"])
    finally:
        service.close()


def _check_the_ui(url: str, paths: dict[str, object]) -> None:
    rows = paths["rows"]
    assert isinstance(rows, list) and rows
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(base_url=url)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/analyze/paths?reconstructed=only")
            page.wait_for_selector("#table tbody tr")
            assert page.input_value("select[name=reconstructed]") == "only"
            notes = page.eval_on_selector_all("#notes li", "ls => ls.map(l => l.textContent)")
            assert notes == paths["notes"]
            first = page.eval_on_selector_all("#table tbody tr:first-child pre", "ps => ps.map(p => p.textContent)")
            assert first[0] == rows[0]["route"]
            # Changing the choice in the form asks again, leaving the reconstructed traces out.
            assert page.eval_on_selector_all("select[name=reconstructed] option", "os => os.map(o => o.value)") == [
                "received", "include", "exclude", "only"]
            page.select_option("select[name=reconstructed]", "exclude")
            page.click("#form button[type=submit]")
            page.wait_for_url("**reconstructed=exclude**")
            page.wait_for_selector("#notes li")
            assert any("left out" in (n or "") for n in
                       page.eval_on_selector_all("#notes li", "ls => ls.map(l => l.textContent)"))
            # Every analysis page offers the baseline fields; compare's ranks by the change.
            page.goto("/analyze/compare")
            page.wait_for_selector("#table tbody tr")
            assert page.query_selector("input[name=baseline]") is not None
            assert errors == []
        finally:
            browser.close()

