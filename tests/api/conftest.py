"""API tests: the fixture traces in a real store behind a real uvicorn server, called with httpx. The
modules that set STORE_KINDS = ("duckdb", "clickhouse") run against the embedded DuckDB store and
against a ClickHouse store on a local 18.16 server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tracehouse.store import Store
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location

from .live_server import serve
from .shared import batch_of, fixture_names
from .shared import make_fixture_store as fixture_store


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each module runs on the stores its STORE_KINDS names (default: DuckDB only): the modules
    whose endpoints the ClickHouse store serves list ("duckdb", "clickhouse")."""
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", getattr(metafunc.module, "STORE_KINDS", ("duckdb",)), scope="module")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, store_kind: str,
           request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    store: Store
    if store_kind == "clickhouse":
        server = request.getfixturevalue("clickhouse_server")
        database = "api_" + uuid.uuid4().hex[:12]
        store = ClickHouseStore(parse_location(f"clickhouse://127.0.0.1:{server.http_port}/{database}"))
        store.write_spans(batch_of(*fixture_names, start_ns=time.time_ns() - 30 * 10**9))
    else:
        store = fixture_store(tmp_path_factory.mktemp("api") / "store.duckdb")
    try:
        with serve(store) as url, httpx.Client(base_url=url, timeout=30) as c:
            yield c
    finally:
        store.close()
