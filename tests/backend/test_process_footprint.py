"""What a running backend keeps out of its process (ADR 8): numpy and pandas, which pyarrow and
DuckDB would load only to recognise their objects, and the other commands' clients. The analyses it
serves measure many traces at once without numpy (pyarrow.compute; ADR 8, second amendment), so
every analysis must still answer on it. Checked on a backend that has ingested spans and answered
queries and every analysis, so the paths that could pull them in have run."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from tests.backend.conftest import BackendFactory
from tests.backend.otlp_requests import fbaas_request

_SITE_PACKAGE = re.compile(r"site-packages/([A-Za-z0-9_]+)/")
KEPT_OUT = {"numpy", "pandas", "psutil"}

# Every analysis, with what the ones that measure traces by the one trace duration (trace_times:
# paths, compare by duration, doctor) need to run that code.
ANALYSES = ("paths", "paths?slowest=5%25", "compare?slowest=5%25", "compare?errors=true", "latency",
            "errors", "origins?service=fizzer", "doctor")


def _mapped_packages(pid: int) -> set[str]:
    return set(_SITE_PACKAGE.findall(Path(f"/proc/{pid}/maps").read_text()))


def test_the_backend_maps_no_numpy_pandas_or_psutil(backend: BackendFactory) -> None:
    # All three are installed in this environment (a test dependency of ours, or a user's notebook
    # dependency), so the check below proves something: importing them here must work.
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import psutil  # noqa: F401

    server = backend()
    built = fbaas_request(traces=20)
    server.send(built)
    server.wait_stored(built.span_ids)
    assert server.scalar("SELECT count(*) FROM traces") == 20
    trace = httpx.get(f"{server.query_url}/api/traces/{built.trace_ids[0]}", timeout=10)
    assert trace.status_code == 200 and trace.json()["data"][0]["spans"]
    for analysis in ANALYSES:
        answer = httpx.get(f"{server.query_url}/api/analyze/{analysis}", timeout=60)
        assert answer.status_code == 200, (analysis, answer.text)
        assert answer.json()["rows"] or analysis.startswith(("compare", "errors", "doctor")), analysis
    paths = httpx.get(f"{server.query_url}/api/analyze/paths", timeout=60).json()
    assert sum(row["traces"] for row in paths["rows"]) == 20   # every trace measured and grouped
    exported = httpx.get(f"{server.query_url}/api/export/spans", timeout=30)
    assert exported.status_code == 200 and exported.content
    packages = _mapped_packages(server.pid)
    assert {"pyarrow", "grpc"} <= packages            # it did load its own libraries
    assert packages.isdisjoint(KEPT_OUT), packages & KEPT_OUT
