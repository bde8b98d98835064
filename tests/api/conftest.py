"""API tests: the fixture traces in a real DuckDBStore behind a real uvicorn server, called with httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .live_server import serve
from .shared import make_fixture_store as fixture_store


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    store = fixture_store(tmp_path_factory.mktemp("api") / "store.duckdb")
    try:
        with serve(store) as url, httpx.Client(base_url=url, timeout=30) as c:
            yield c
    finally:
        store.close()
