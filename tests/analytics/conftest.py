"""Stores filled with synthetic trace sets whose cause is planted (tracehouse.analytics.synthetic)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from tracehouse.analytics import synthetic
from tracehouse.api.app import create_app
from tracehouse.query.analyses import Analyses
from tracehouse.query.service import QueryService
from tracehouse.stores.duckdb import DuckDBStore

MakeStore = Callable[..., DuckDBStore]


def fill(path: Path, scenario: synthetic.Scenario, traces: int, seed: int = 7) -> DuckDBStore:
    store = DuckDBStore(path)
    for batch in synthetic.generate(scenario, traces, seed=seed):
        store.write_spans(batch)
    return store


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[MakeStore]:
    opened: list[DuckDBStore] = []

    def make(scenario: synthetic.Scenario, traces: int = 2000, name: str = "store") -> DuckDBStore:
        store = fill(tmp_path / name / "tracehouse.duckdb", scenario, traces)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def analyses_of(make_store: MakeStore) -> Callable[..., Analyses]:
    def build(scenario: synthetic.Scenario, traces: int = 2000) -> Analyses:
        return Analyses(make_store(scenario, traces))
    return build


@contextmanager
def serve(service: QueryService) -> Iterator[str]:
    """The query API and UI on a free loopback port, in a thread, for as long as the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
