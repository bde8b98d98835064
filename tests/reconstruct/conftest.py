"""A real DuckDB store holding generated traces whose cross-service links were partly cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.reconstruct_data import Generated, generate

from tracehouse.stores.duckdb import DuckDBStore


def window(data: Generated) -> tuple[int, int]:
    starts = [int(r["start"]) for r in data.rows]  # type: ignore[call-overload]
    return min(starts), max(starts) + 1


@pytest.fixture
def data() -> Generated:
    return generate("chain", 200, 1.0, seed=41, propagated=0.3)


@pytest.fixture
def store(tmp_path: Path, data: Generated) -> Iterator[DuckDBStore]:
    st = DuckDBStore(tmp_path / "store.duckdb")
    st.write_spans(data.table())
    try:
        yield st
    finally:
        st.close()
