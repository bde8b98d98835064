"""The CLI, the HTTP API and the Python functions give the same numbers (the UI draws the API's JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tracehouse.analytics import synthetic
from tracehouse.app.wiring import Wiring
from tracehouse.cli.doctor_cmd import doctor_text
from tracehouse.cli.main import cli
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import fill, serve

CASES: list[tuple[list[str], str, dict[str, Any]]] = [
    (["paths", "--slowest", "5%"], "paths", {"slowest": "5%"}),
    (["paths", "--slowest", "5%", "--sample", "1000"], "paths", {"slowest": "5%", "sample": "1000"}),
    (["origins", "ledger"], "origins", {"service": "ledger"}),
    (["latency", "--what-if", "fizzer=-50%"], "latency", {"what_if": "fizzer=-50%"}),
    (["compare", "--errors"], "compare", {"errors": "true"}),
    (["compare", "--slowest", "10%", "--attr", "traffic.type=user"], "compare",
     {"slowest": "10%", "attr": ["traffic.type=user"]}),
    (["errors", "--service", "buzzer"], "errors", {"service": "buzzer"}),
    # Against a baseline (the 10 s before the window), and with reconstructed traces left out.
    (["compare", "--slowest", "10%", "--start", "1700000020", "--baseline", "10s"], "compare",
     {"slowest": "10%", "start": "1700000020", "baseline": "10s"}),
    (["paths", "--start", "1700000020", "--baseline", "10s", "--reconstructed", "exclude"], "paths",
     {"start": "1700000020", "baseline": "10s", "reconstructed": "exclude"}),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("agreement")
    fill(directory / "tracehouse.duckdb", synthetic.mixed(), 3000).close()
    return directory


@pytest.fixture(scope="module")
def cli_json(data_dir: Path) -> dict[int, dict[str, Any]]:
    """Every case through the CLI on the store file, opened directly (before any server holds it)."""
    out = {}
    for i, (args, _, _) in enumerate(CASES):
        result = CliRunner().invoke(cli, ["analyze", *args, "--data", str(data_dir), "--format", "json"],
                                    obj=Wiring(), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out[i] = json.loads(result.output)
    return out


@pytest.fixture(scope="module")
def service(data_dir: Path, cli_json: dict[int, dict[str, Any]]) -> Iterator[QueryService]:
    settings = Settings().with_overrides(data_dir=data_dir)
    svc = QueryService(DuckDBStore(settings.store_path, read_only=True), settings)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def url(service: QueryService) -> Iterator[str]:
    """A real backend's query API on the store (it holds the file from here on, as `up` would)."""
    with serve(service) as base:
        yield base


@pytest.mark.parametrize("case", range(len(CASES)))
def test_cli_api_and_python_agree(case: int, cli_json: dict[int, dict[str, Any]], service: QueryService,
                                  url: str) -> None:
    _, name, params = CASES[case]
    api = httpx.get(f"{url}/api/analyze/{name}", params=params, timeout=60)
    assert api.status_code == 200, api.text
    python = Analyses(service.store).run(name, params).to_json()
    assert api.json() == python
    assert cli_json[case] == python
    assert python["rows"], "an empty result would make the comparison vacuous"
    assert python["params"]["reconstructed"] == params.get("reconstructed", "received")
    assert any(n.startswith("reconstructed traces: none") for n in python["notes"])
    if "baseline" in params:
        assert any(n.startswith("baseline: the baseline is the 10s before the window") for n in python["notes"])
        assert all(f"change_{f}" in python["rows"][0] for f in ("difference", "selected_pct")
                   if name == "compare")


def test_cli_prints_a_readable_table(service: QueryService, url: str) -> None:
    result = CliRunner().invoke(cli, ["analyze", "latency", "--url", url], obj=Wiring())
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Critical-path latency by service and operation"
    assert any(line.startswith("service ") and "share of latency" in line for line in lines)
    python = Analyses(service.store).run("latency", {})
    assert f"{python.rows[0]['share']:.1f}%" in result.output
    text = doctor_text(url)
    assert text == doctor_text(service)
    assert "Where requests wait (critical path):" in text
    bad = httpx.get(f"{url}/api/analyze/latency", params={"what_if": "fizzer"})
    assert bad.status_code == 400 and "what-if" in bad.json()["error"]
    for sample in ("many", "0"):
        bad = httpx.get(f"{url}/api/analyze/paths", params={"sample": sample})
        assert bad.status_code == 400 and "sample is a number of traces" in bad.json()["error"]
    refused = CliRunner().invoke(cli, ["analyze", "latency", "--url", url, "--what-if", "nope"], obj=Wiring())
    assert refused.exit_code == 1 and "what-if is SERVICE" in refused.output
