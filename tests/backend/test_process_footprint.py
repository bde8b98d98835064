"""What a running backend keeps out of its process (ADR 8): pandas, which pyarrow and DuckDB would
load only to recognise its objects, and the other commands' clients. numpy it does load: the
analyses measure many traces at once with it (ADR 13), and the paths analysis below must answer. Checked on a backend
that has ingested spans and answered queries and an analysis, so the paths that could pull them in
have run."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from tests.backend.conftest import BackendFactory
from tests.backend.otlp_requests import fbaas_request

_SITE_PACKAGE = re.compile(r"site-packages/([A-Za-z0-9_]+)/")


def _mapped_packages(pid: int) -> set[str]:
    return set(_SITE_PACKAGE.findall(Path(f"/proc/{pid}/maps").read_text()))


def test_the_backend_maps_no_pandas_or_psutil(backend: BackendFactory) -> None:
    # Both are installed in this environment (a test dependency of ours), so the check below
    # proves something: importing them here must work.
    import pandas  # noqa: F401
    import psutil  # noqa: F401

    server = backend()
    built = fbaas_request(traces=5)
    server.send(built)
    server.wait_stored(built.span_ids)
    assert server.scalar("SELECT count(*) FROM traces") == 5
    trace = httpx.get(f"{server.query_url}/api/traces/{built.trace_ids[0]}", timeout=10)
    assert trace.status_code == 200 and trace.json()["data"][0]["spans"]
    routes = httpx.get(f"{server.query_url}/api/analyze/paths", timeout=30)
    assert routes.status_code == 200, routes.text     # paths measures traces with numpy (ADR 13)
    exported = httpx.get(f"{server.query_url}/api/export/spans", timeout=30)
    assert exported.status_code == 200 and exported.content
    packages = _mapped_packages(server.pid)
    assert {"pyarrow", "grpc"} <= packages            # it did load its own libraries
    assert packages.isdisjoint({"pandas", "psutil"}), packages & {"pandas", "psutil"}
