"""Stores filled with synthetic trace sets whose cause is planted (tracehouse.analytics.synthetic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tracehouse.analytics import synthetic
from tracehouse.query.analyses import Analyses
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
