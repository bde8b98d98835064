"""SqlRunner: one read-only statement, a row cap, a time limit, and no way to change or leave the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tracehouse.store import SqlRefusedError, SqlTimeoutError, Store, StoreError

from .traces import batch, traces

REFUSED = [
    "INSERT INTO span_data SELECT * FROM span_data",
    "UPDATE span_data SET span_name = 'x'",
    "DELETE FROM span_data",
    "DROP TABLE span_data",
    "DROP VIEW spans",
    "CREATE TABLE stolen AS SELECT * FROM span_data",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m(x) AS x + 1",
    "ALTER TABLE span_data ADD COLUMN x INT",
    "TRUNCATE span_data",
    "ATTACH '{tmp}/other.db' AS other",
    "DETACH tracehouse",
    "COPY span_data TO '{tmp}/out.csv'",
    "COPY (SELECT 1) TO '{tmp}/out.csv'",
    "EXPORT DATABASE '{tmp}/export'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET memory_limit = '10GB'",
    "SET enable_external_access = true",
    "RESET memory_limit",
    "PRAGMA enable_profiling",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "CALL dbgen(sf = 0.01)",
    "WITH gone AS (DELETE FROM span_data RETURNING *) SELECT count(*) FROM gone",
    "EXPLAIN ANALYZE DELETE FROM span_data",
    "SELECT 1; DELETE FROM span_data",
    "SELECT count(*) FROM spans; SELECT 1",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "this is not sql",
    "",
]


@pytest.fixture
def loaded(store: Store) -> Store:
    store.write_spans(batch(traces(20)))
    return store


@pytest.mark.parametrize("statement", REFUSED)
def test_refused_statements_change_nothing(loaded: Store, tmp_path: Path, statement: str) -> None:
    before = loaded.run_sql("SELECT count(*), count(DISTINCT span_name) FROM spans", 10, 10).rows
    with pytest.raises(SqlRefusedError) as info:
        loaded.run_sql(statement.format(tmp=tmp_path), 100, 10)
    assert str(info.value)
    assert loaded.run_sql("SELECT count(*), count(DISTINCT span_name) FROM spans", 10, 10).rows == before
    assert loaded.span_count() == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"], "a refused statement wrote a file"


@pytest.mark.parametrize("statement", [
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM '/etc/passwd.csv'",
    "SELECT content FROM read_text('/etc/passwd')",
])
def test_files_are_never_read(loaded: Store, statement: str) -> None:
    """Refused, or failing as an unknown table: either way an error, and no file content."""
    with pytest.raises(StoreError) as info:
        loaded.run_sql(statement, 100, 10)
    assert "root:" not in str(info.value)


def test_select_results_columns_and_params(loaded: Store) -> None:
    result = loaded.run_sql(
        "SELECT service_name, count(*) AS n FROM spans WHERE span_kind = ? GROUP BY ALL ORDER BY 1", 100, 10,
        params=["SERVER"])
    assert result.columns == ["service_name", "n"]
    assert len(result.types) == 2
    assert result.rows == [("buzzer", 20), ("fizzer", 20), ("hub", 20)]
    assert not result.truncated
    assert loaded.run_sql("SELECT count(*) FROM traces", 10, 10).rows == [(20,)]
    assert loaded.run_sql("EXPLAIN SELECT * FROM spans", 100, 10).rows
    assert isinstance(loaded.sql_dialect(), str) and loaded.sql_dialect()


def test_row_cap_flags_truncation(loaded: Store) -> None:
    result = loaded.run_sql("SELECT span_id FROM spans ORDER BY span_id", 7, 10)
    assert len(result.rows) == 7
    assert result.truncated
    exact = loaded.run_sql("SELECT span_id FROM spans", 100, 10)
    assert len(exact.rows) == 100 and not exact.truncated
    empty = loaded.run_sql("SELECT * FROM spans WHERE false", 10, 10)
    assert empty.rows == [] and not empty.truncated and "span_id" in empty.columns


def test_time_limit_stops_a_long_query(loaded: Store) -> None:
    with pytest.raises(SqlTimeoutError):
        loaded.run_sql("SELECT count(*) FROM range(100000000) a, range(100000000) b", 10, 0.3)
    assert loaded.run_sql("SELECT count(*) FROM spans", 10, 10).rows == [(100,)]


def test_a_failing_select_is_a_store_error_not_a_refusal(loaded: Store) -> None:
    with pytest.raises(StoreError) as info:
        loaded.run_sql("SELECT no_such_column FROM spans", 10, 10)
    assert not isinstance(info.value, SqlRefusedError | SqlTimeoutError)
    assert "no_such_column" in str(info.value)


def test_sql_on_a_read_only_store(open_store: Callable[..., Store]) -> None:
    writer = open_store()
    writer.write_spans(batch(traces(3)))
    writer.close()
    reader = open_store(read_only=True)
    assert reader.run_sql("SELECT count(*) FROM spans", 10, 10).rows == [(15,)]
    with pytest.raises(SqlRefusedError):
        reader.run_sql("DELETE FROM span_data", 10, 10)
    assert reader.span_count() == 15
