"""ClickHouse tests reuse the backend tests' process fixtures: real `tracehouse up` processes.

The analytics tests compare a ClickHouse store with a DuckDB reference holding the same batches;
`reference_store` and `clickhouse_store_of` open both, for their module fixtures (a module-scoped
fixture parametrized by CLICKHOUSE_KINDS gets one ClickHouse store of each kind); `filled` is what
they share."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.backend.conftest import backend

from tracehouse.store.contract import Store
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.clickhouse.chdb_transport import ChdbTransport
from tracehouse.stores.duckdb import DuckDBStore

__all__ = ["CLICKHOUSE_KINDS", "backend", "clickhouse_store_of", "reference_store"]

# One 18.16 server (the session's) and chDB (the modern dialect, in process).
CLICKHOUSE_KINDS = ["clickhouse-18.16", "chdb"]

StoreT = TypeVar("StoreT", bound=Store)


@contextmanager
def filled(store: StoreT, batches: Iterable[pa.Table]) -> Iterator[StoreT]:
    """`store`, just opened, holding these batches too; closed on leaving, even if a write fails."""
    try:
        for b in batches:
            store.write_spans(b)
        yield store
    finally:
        store.close()


@contextmanager
def reference_store(batches: Iterable[pa.Table], directory: Path) -> Iterator[DuckDBStore]:
    """An embedded store in `directory` holding these batches: the reference answers."""
    with filled(DuckDBStore(directory / "tracehouse.duckdb"), batches) as store:
        yield store


@contextmanager
def clickhouse_store_of(request: pytest.FixtureRequest, batches: Iterable[pa.Table],
                        database_prefix: str) -> Iterator[ClickHouseStore]:
    """A ClickHouse store of the kind `request.param` names (one of CLICKHOUSE_KINDS), in a new
    database, holding these batches."""
    database = database_prefix + uuid.uuid4().hex[:10]
    if request.param == "chdb":
        transport: ChdbTransport = request.getfixturevalue("chdb_transport")
        store = ClickHouseStore(parse_location(f"clickhouse://chdb/{database}"), transport=transport,
                                owns_transport=False)
    else:
        assert request.param == "clickhouse-18.16", request.param
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        store = ClickHouseStore(parse_location(f"clickhouse://127.0.0.1:{server.http_port}/{database}"))
    with filled(store, batches) as filled_store:
        yield filled_store
