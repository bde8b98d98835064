"""The stores under test. Add a store by appending a StoreFactory to STORE_FACTORIES: every test in
this directory then runs against it too."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracehouse.store import Store
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.duckdb import DuckDBStore


def database_for(data_dir: Path) -> str:
    """A ClickHouse database of its own for each test's data directory, on the session's server."""
    return "t_" + hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoreFactory:
    name: str
    # (data directory, read_only, the service fixture's value or None) -> store
    open: Callable[[Path, bool, Any], Store]
    dialect: str
    # The session fixture the store needs (a server), or None.
    service: str | None = None
    # Python source that opens the store for writing in another process, given `data_dir` (a Path)
    # and the service; None when the store cannot be opened from another process (in-process chDB).
    subprocess_source: Callable[[Path, Any], str] | None = None
    # Whether test_sql's list of refused statements runs on this store too. The refusals are decided
    # before anything reaches the server, so one server of each dialect covers them.
    check_refusals: bool = True

    def __str__(self) -> str:
        return self.name


def _clickhouse_url(data_dir: Path, server: Any) -> str:
    return f"clickhouse://127.0.0.1:{server.http_port}/{database_for(data_dir)}"


def _cluster_url(data_dir: Path, cluster: Any) -> str:
    entry = cluster.servers[0][0]
    return f"clickhouse://127.0.0.1:{entry.http_port}/{database_for(data_dir)}?cluster={cluster.name}"


STORE_FACTORIES = [
    StoreFactory(
        name="duckdb",
        open=lambda data_dir, read_only, _: DuckDBStore(data_dir / "tracehouse.duckdb", read_only=read_only),
        dialect="duckdb",
        subprocess_source=lambda data_dir, _: (
            "from tracehouse.stores.duckdb import DuckDBStore\n"
            "store = DuckDBStore(data_dir / 'tracehouse.duckdb')\n"
        ),
    ),
    StoreFactory(
        name="clickhouse-18.16",
        open=lambda data_dir, read_only, server: ClickHouseStore(
            parse_location(_clickhouse_url(data_dir, server)), read_only=read_only),
        dialect="clickhouse",
        service="clickhouse_server",
        subprocess_source=lambda data_dir, server: (
            "from tracehouse.stores.clickhouse import ClickHouseStore, parse_location\n"
            f"store = ClickHouseStore(parse_location({_clickhouse_url(data_dir, server)!r}))\n"
        ),
    ),
    StoreFactory(
        name="clickhouse-cluster",
        open=lambda data_dir, read_only, cluster: ClickHouseStore(
            parse_location(_cluster_url(data_dir, cluster)), read_only=read_only),
        dialect="clickhouse",
        service="clickhouse_cluster",
        subprocess_source=lambda data_dir, cluster: (
            "from tracehouse.stores.clickhouse import ClickHouseStore, parse_location\n"
            f"store = ClickHouseStore(parse_location({_cluster_url(data_dir, cluster)!r}))\n"
        ),
        check_refusals=False,
    ),
    StoreFactory(
        name="chdb",
        open=lambda data_dir, read_only, transport: ClickHouseStore(
            parse_location(f"clickhouse://chdb/{database_for(data_dir)}"), read_only=read_only,
            transport=transport, owns_transport=False),
        dialect="clickhouse",
        service="chdb_transport",
    ),
]


@pytest.fixture(params=STORE_FACTORIES, ids=str)
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def service(factory: StoreFactory, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(factory.service) if factory.service else None


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def open_store(factory: StoreFactory, data_dir: Path, service: Any) -> Iterator[Callable[..., Store]]:
    """Opens the store in `data_dir` (again, after a close, to test durability); closes all at teardown."""
    opened: list[Store] = []

    def open_(read_only: bool = False) -> Store:
        store = factory.open(data_dir, read_only, service)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    return open_store()
