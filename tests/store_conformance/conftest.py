"""The stores under test. Add a store by appending a StoreFactory to STORE_FACTORIES: every test in
this directory then runs against it too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracehouse.store import Store
from tracehouse.stores.duckdb import DuckDBStore


@dataclass(frozen=True)
class StoreFactory:
    name: str
    open: Callable[[Path, bool], Store]   # (data directory, read_only) -> store
    # Python source that opens the store for writing in another process, given `data_dir` (a Path).
    open_in_subprocess: str

    def __str__(self) -> str:
        return self.name


STORE_FACTORIES = [
    StoreFactory(
        name="duckdb",
        open=lambda data_dir, read_only: DuckDBStore(data_dir / "tracehouse.duckdb", read_only=read_only),
        open_in_subprocess=(
            "from tracehouse.stores.duckdb import DuckDBStore\n"
            "store = DuckDBStore(data_dir / 'tracehouse.duckdb')\n"
        ),
    ),
]


@pytest.fixture(params=STORE_FACTORIES, ids=str)
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def open_store(factory: StoreFactory, data_dir: Path) -> Iterator[Callable[..., Store]]:
    """Opens the store in `data_dir` (again, after a close, to test durability); closes all at teardown."""
    opened: list[Store] = []

    def open_(read_only: bool = False) -> Store:
        store = factory.open(data_dir, read_only)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    return open_store()
