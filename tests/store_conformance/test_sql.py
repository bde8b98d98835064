"""SqlRunner: one read-only statement, a row cap, a time limit, and no way to change or leave the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tracehouse.store import SqlRefusedError, SqlTimeoutError, Store, StoreError

from .conftest import STORE_FACTORIES
from .traces import batch, traces

DUCKDB_REFUSED = [
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


# ClickHouse's statements that write, administer, change settings, redirect output or reach files,
# the network or other servers.
CLICKHOUSE_REFUSED = [
    "INSERT INTO span_data_local SELECT * FROM span_data_local",
    "ALTER TABLE span_data_local DELETE WHERE 1",
    "ALTER TABLE span_data_local UPDATE span_name = 'x' WHERE 1",
    "DROP TABLE span_data_local",
    "DROP VIEW spans",
    "TRUNCATE TABLE span_data_local",
    "CREATE TABLE stolen ENGINE = Memory AS SELECT * FROM spans",
    "CREATE VIEW v AS SELECT 1",
    "RENAME TABLE spans TO gone",
    "OPTIMIZE TABLE span_data_local FINAL",
    "DETACH TABLE spans",
    "ATTACH TABLE spans",
    "EXCHANGE TABLES spans AND traces",
    "SYSTEM STOP MERGES",
    "KILL QUERY WHERE 1",
    "SET max_memory_usage = 1",
    "SET readonly = 0",
    "USE system",
    "GRANT ALL ON *.* TO default",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT count() FROM spans SETTINGS max_execution_time = 1000",
    "SELECT * FROM spans INTO OUTFILE '{tmp}/out.csv'",
    "SELECT * FROM spans FORMAT CSV",
    "SELECT 1; DELETE FROM span_data_local WHERE 1",
    "SELECT count(*) FROM spans; SELECT 1",
    "SELECT * FROM file('/etc/passwd', 'CSV', 'line String')",
    "SELECT * FROM FILE('/etc/passwd', 'CSV', 'line String')",
    "SELECT * FROM url('http://127.0.0.1:9/x', CSV, 'a String')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1', system.one)",
    "SELECT * FROM cluster('default', system.one)",
    "SELECT * FROM numbers(10)",
    "SELECT * FROM spans AS s JOIN file('/etc/passwd', 'CSV', 'l String') AS f ON 1 = 1",
    "SELECT * FROM spans, url('http://127.0.0.1:9/', CSV, 'a String')",
    "SELECT * FROM (SELECT * FROM file('/etc/hostname', 'TSV', 'l String'))",
    "SELECT * FROM input('a String')",
    "SELECT * FROM executable('ls', TSV, 'a String')",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM s3('http://127.0.0.1:9/b/k', 'CSV', 'a String')",
    "WITH x AS (SELECT 1) SELECT * FROM mysql('127.0.0.1:9', 'd', 't', 'u', 'p')",
    "SELECT * FROM merge(currentDatabase(), '.*')",
    "SHOW TABLES",
    "SELECT * FROM system.settings",
    "SELECT query FROM system.processes",
    "SELECT * FROM system . tables",
    "DESCRIBE spans",
    "this is not sql",
    "SELECT 'unterminated",
    "",
    ";",
]
REFUSED = {"duckdb": DUCKDB_REFUSED, "clickhouse": CLICKHOUSE_REFUSED}
# A query that runs for far longer than any time limit a test sets.
ENDLESS = {
    "duckdb": "SELECT count(*) FROM range(100000000) a, range(100000000) b",
    "clickhouse": "SELECT count() FROM system.numbers",
}
REFUSED_CASES = [pytest.param(f, s, id=f"{f}-{s[:60]}") for f in STORE_FACTORIES if f.check_refusals
                 for s in REFUSED[f.dialect]]


@pytest.fixture
def loaded(store: Store) -> Store:
    store.write_spans(batch(traces(20)))
    return store


@pytest.mark.parametrize(("factory", "statement"), REFUSED_CASES, indirect=["factory"])
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
        "SELECT service_name, count(*) AS n FROM spans WHERE span_kind = ? GROUP BY service_name "
        "ORDER BY service_name", 100, 10, params=["SERVER"])
    assert result.columns == ["service_name", "n"]
    assert len(result.types) == 2
    assert result.rows == [("buzzer", 20), ("fizzer", 20), ("hub", 20)]
    assert not result.truncated
    assert loaded.run_sql("SELECT count(*) FROM traces", 10, 10).rows == [(20,)]
    if loaded.sql_dialect() == "duckdb":   # ClickHouse 18.16 has no EXPLAIN
        assert loaded.run_sql("EXPLAIN SELECT * FROM spans", 100, 10).rows
    assert isinstance(loaded.sql_dialect(), str) and loaded.sql_dialect()


def test_row_cap_flags_truncation(loaded: Store) -> None:
    result = loaded.run_sql("SELECT span_id FROM spans ORDER BY span_id", 7, 10)
    assert len(result.rows) == 7
    assert result.truncated
    exact = loaded.run_sql("SELECT span_id FROM spans", 100, 10)
    assert len(exact.rows) == 100 and not exact.truncated
    empty = loaded.run_sql("SELECT * FROM spans WHERE 1 = 0", 10, 10)
    assert empty.rows == [] and not empty.truncated and "span_id" in empty.columns


def test_time_limit_stops_a_long_query(loaded: Store) -> None:
    with pytest.raises(SqlTimeoutError):
        loaded.run_sql(ENDLESS[loaded.sql_dialect()], 10, 0.3)
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
