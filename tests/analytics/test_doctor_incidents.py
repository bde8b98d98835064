"""Doctor on the planted-cause suite (tracehouse.analytics.incidents): each planted cause is ranked
first, two simultaneous causes are the first two, and healthy traffic gets no cause at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import tracehouse
from tracehouse.analytics import incidents
from tracehouse.analytics.causes import Diagnosis
from tracehouse.analytics.doctor import BaselineSpec
from tracehouse.analytics.report import Report
from tracehouse.app.wiring import Wiring
from tracehouse.cli.doctor_cmd import render_doctor
from tracehouse.cli.main import cli
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import serve

BASELINE, INCIDENT = 1500, 1500   # traces on each side: small enough for make test


def _store(path: Path, incident: incidents.Incident, seed: int = 1, side: int = BASELINE) -> DuckDBStore:
    store = DuckDBStore(path)
    for batch in incidents.generate(incident, side, side, seed=seed):
        store.write_spans(batch)
    return store


@pytest.mark.parametrize("name", [i.name for i in incidents.SUITE])
def test_doctor_ranks_the_planted_cause_first(name: str, tmp_path: Path) -> None:
    incident = incidents.by_name(name)
    store = _store(tmp_path / "tracehouse.duckdb", incident)
    try:
        _, start, end = incidents.window(incident, BASELINE, INCIDENT)
        diagnosis = Analyses(store).diagnose(AnalysisFilter(start, end))
    finally:
        store.close()
    shown = [f"{c.rank}. {c.kind} {c.location.label()} {c.segment.label() if c.segment else ''}"
             for c in diagnosis.causes]
    assert incidents.found(diagnosis, incident), (incident.description, shown)
    assert "the 30s before the window" in diagnosis.baseline_how
    if not incident.expected:
        assert diagnosis.verdict.startswith("Nothing stands out")
        assert diagnosis.looked_at and diagnosis.hypotheses > 50   # it says what it looked at
        return
    top = diagnosis.causes[0]
    assert top.q_value <= 0.01 and top.support.incident_traces >= 20 and top.support.baseline_traces >= 20
    assert top.effect.impact_ms > 0
    if name in ("retries", "retry-backoff", "two-causes"):
        # The retrying caller's back-off is the failing callee's cost: on the edge into ledger, never
        # on payments' own time.
        assert not any(c.location.service == "payments" for c in diagnosis.causes), shown
    if name == "clock-skew":
        assert not any(c.location.service == "cart" for c in diagnosis.causes)
        assert any(n.startswith("clock skew: cart's spans") and "-400.0 ms" in n for n in diagnosis.notes)
    if name == "deploy":
        # Since when: the change point is near a third into the window, not at its start.
        assert top.since_ns is not None
        assert abs(top.since_ns - (start + (end - start) // 3)) < (end - start) // 10


def test_a_baseline_given_in_time_or_as_a_length(tmp_path: Path) -> None:
    incident = incidents.by_name("network")
    store = _store(tmp_path / "tracehouse.duckdb", incident)
    try:
        first, start, end = incidents.window(incident, BASELINE, INCIDENT)
        analyses = Analyses(store)
        explicit = analyses.diagnose(AnalysisFilter(start, end), BaselineSpec(first, first + 10 * 10**9))
        assert explicit.baseline_start_ns == first and explicit.baseline_end_ns == first + 10 * 10**9
        assert incidents.found(explicit, incident)
        assert explicit.causes[0].support.baseline_total < 600  # ten seconds: ~500 traces
        report = analyses.run("doctor", {"start": str(start / 1e9), "end": str(end / 1e9), "baseline": "20s"})
        d = Diagnosis.from_json(report.params["diagnosis"])
        assert d.baseline_how.startswith("the baseline is the 20s before the window")
        assert incidents.found(d, incident)
        # The other analyses take the same baseline, and rank their rows by the change.
        latency = analyses.run("latency", {"start": str(start / 1e9), "end": str(end / 1e9), "baseline": "30s"})
        top = latency.rows[0]
        assert (top["service"], top["operation"]) == ("frontend", "POST") and top["change_p95_ms"] > 10
        assert latency.findings[0].startswith("Largest change against the baseline: frontend POST")
        assert any(n.startswith("baseline: the baseline is the 30s before the window") for n in latency.notes)
        # No window: the last third of what is stored, against the rest; said in the output.
        default = Diagnosis.from_json(analyses.run("doctor", {}).params["diagnosis"])
        assert default.baseline_how.startswith("no window given")
        # A window with nothing before it: the within-window split, said plainly.
        early = analyses.diagnose(AnalysisFilter(first, first + 20 * 10**9))
        assert "too few traces before the window" in early.baseline_how
    finally:
        store.close()


def test_doctor_agrees_across_cli_api_python_and_ui(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    incident = incidents.by_name("two-causes")
    data = tmp_path / "data"
    _store(data / "tracehouse.duckdb", incident, side=1000).close()
    _, start, end = incidents.window(incident, 1000, 1000)
    params = {"start": str(start // 10**9), "end": str(end // 10**9)}
    result = CliRunner().invoke(cli, ["doctor", "--data", str(data), "--start", params["start"], "--end",
                                      params["end"], "--format", "json"], obj=Wiring(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cli_json = json.loads(result.output)
    text = CliRunner().invoke(cli, ["doctor", "--data", str(data), "--start", params["start"], "--end", params["end"]],
                              obj=Wiring(), catch_exceptions=False).output
    settings = Settings().with_overrides(data_dir=data)
    service = QueryService(DuckDBStore(settings.store_path, read_only=True), settings)
    try:
        python = Analyses(service.store).run("doctor", params).to_json()
        with serve(service) as url:
            api = httpx.get(f"{url}/api/analyze/doctor", params=params, timeout=120)
            assert api.status_code == 200, api.text
            assert api.json() == python == cli_json
            bad = httpx.get(f"{url}/api/analyze/doctor", params={**params, "baseline": "soon"})
            assert bad.status_code == 400 and "not a duration" in bad.json()["error"]
            d = Diagnosis.from_json(python["params"]["diagnosis"])
            assert incidents.found(d, incident) and len(d.causes) >= 2
            assert text == render_doctor(Report.from_json(python)) + "\n"
            assert d.causes[0].location.label() in text and "Suspected causes" in text
            with tracehouse.connect(url) as th:   # the notebook entry point gives the same causes
                assert th.diagnose(**params) == d
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
                try:
                    page = browser.new_page(base_url=url)
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(f"/analyze/doctor?{httpx.QueryParams(params)}")
                    page.wait_for_selector("#causes .th-cause")
                    cards = page.eval_on_selector_all("#causes .th-cause h3", "hs => hs.map(h => h.textContent)")
                    assert len(cards) == len(d.causes)
                    for card, cause in zip(cards, d.causes, strict=True):
                        assert cause.location.label() in card and f"{cause.rank}." in card
                    assert page.eval_on_selector_all("#causes .th-cause svg", "s => s.length") == 2 * len(d.causes)
                    assert page.text_content("#verdict") == d.verdict
                    assert errors == []
                finally:
                    browser.close()
    finally:
        service.close()


@pytest.fixture
def skewed_trace() -> Iterator[list[object]]:
    from tracehouse.analytics.critical_path import SpanTiming

    ms = 10**6
    yield [
        SpanTiming("r", None, "web", "GET /", 0, 100 * ms, "SERVER"),
        SpanTiming("c", "r", "web", "GET", 10 * ms, 60 * ms, "CLIENT"),
        # api's clock is 500 ms ahead: its span sits outside the CLIENT span that waited for it.
        SpanTiming("s", "c", "api", "GET /x", 520 * ms, 560 * ms, "SERVER"),
        SpanTiming("p", "r", "web", "publish", 70 * ms, 72 * ms, "PRODUCER"),
        # The consumer runs after the request answered: kept, with the queue wait before it.
        SpanTiming("q", "p", "worker", "process", 300 * ms, 350 * ms, "CONSUMER"),
    ]


def test_one_timeline_corrects_skew_and_keeps_async_work(skewed_trace: list[object]) -> None:
    from tracehouse.analytics.critical_path import SpanTiming
    from tracehouse.analytics.trace_time import timeline, trace_critical_path, trace_duration

    spans = [s for s in skewed_trace if isinstance(s, SpanTiming)]
    placed, shifts = timeline(spans)
    server = next(s for s in placed if s.span_id == "s")
    assert (server.start_ns, server.end_ns) == (15 * 10**6, 55 * 10**6)   # centred in its CLIENT span
    assert shifts == {"api": -505 * 10**6}
    assert trace_duration(spans) == 350 * 10**6                            # up to the consumer's end
    path = trace_critical_path(spans)
    assert sum(seg.self_time_ns for seg in path) == 350 * 10**6
    waits = {seg.span.span_id: seg.self_time_ns for seg in path}
    assert waits["p"] >= 228 * 10**6   # the queue wait is on the path, as the producer's own time
    assert waits["q"] == 50 * 10**6


def test_the_store_contract_for_doctor(tmp_path: Path) -> None:
    """cause_sample and trace_times (AnalyticsReader): what another store must return for doctor."""
    incident = incidents.by_name("no-cause")
    store = _store(tmp_path / "tracehouse.duckdb", incident, side=200)
    try:
        _, start, end = incidents.window(incident, 200, 200)
        window = AnalysisFilter(start, end)
        count, earliest, latest = store.trace_times(window)
        # 200 requests started in the window; a request just before it may have work (its order
        # consumer) inside it, and counts too.
        assert count == store.count_traces(window) and 200 <= count <= 205
        assert earliest is not None and latest is not None and start <= earliest <= latest < end
        assert store.trace_times(AnalysisFilter(end + 10**12, end + 2 * 10**12)) == (0, None, None)
        sample = store.cause_sample(window, 50)
        assert sample.column_names == ["trace_id", "span_id", "parent_span_id", "service_name", "span_name",
                                       "span_kind", "start_time_unix_nano", "duration_ns", "error", "attributes",
                                       "resource_attributes"]
        assert len(set(sample.column("trace_id").to_pylist())) == 50
        assert sample == store.cause_sample(window, 50)          # the same sample every time
        assert set(sample.column("span_kind").to_pylist()) <= {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
        assert {"SERVER", "CLIENT"} <= set(sample.column("span_kind").to_pylist())
        row = sample.slice(0, 1).to_pylist()[0]
        assert json.loads(row["resource_attributes"])["service.name"] == row["service_name"]
        assert isinstance(json.loads(row["attributes"]), dict)
        trace_ids = sample.column("trace_id").to_pylist()
        assert trace_ids == sorted(trace_ids)
        # Its trace sample is the same sample.
        assert set(store.trace_sample(window, 50).column("trace_id").to_pylist()) == set(trace_ids)
    finally:
        store.close()
