"""Every SQL example in docs/schema.md runs on a real store and returns rows: the docs stay true."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.fbaas_shape import RequestFactory

from tracehouse.otlp.protobuf import decode_protobuf
from tracehouse.stores.duckdb import DuckDBStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def _examples() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    statements = []
    for block in blocks:
        for statement in block.split(";"):
            lines = [line for line in statement.splitlines() if line.strip() and not line.strip().startswith("--")]
            if lines:
                statements.append("\n".join(lines))
    return statements


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path_factory.mktemp("schema") / "t.duckdb")
    store.write_spans(decode_protobuf(RequestFactory(500).next_body()).table)
    yield store
    store.close()


def test_the_doc_has_examples() -> None:
    assert len(_examples()) >= 6


@pytest.mark.parametrize("query", _examples())
def test_example_runs(store: DuckDBStore, query: str) -> None:
    result = store.run_sql(query, max_rows=100, timeout_seconds=10)
    assert result.columns
    if "WHERE attributes['http.response.status_code'] >= 500" not in query:
        assert result.rows, f"no rows from:\n{query}"
