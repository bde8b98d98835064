"""The SQL console's sandbox: every way out is refused with a clear message, and the store is unchanged.

Users' SQL runs on the store's own DuckDB instance (QueryService.run_sql -> DuckDBStore.run_sql), the
engine shared by the console, `tracehouse sql` and POST /api/sql.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracehouse.analytics import synthetic
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.store import SqlRefusedError, SqlTimeoutError, StoreError
from tracehouse.stores.duckdb import DuckDBStore


@pytest.fixture
def service(tmp_path: Path) -> Iterator[QueryService]:
    settings = Settings().with_overrides(data_dir=tmp_path / "data")
    store = DuckDBStore(settings.store_path)
    for batch in synthetic.generate(synthetic.funnel(), 200):
        store.write_spans(batch)
    svc = QueryService(store, settings)
    yield svc
    svc.close()


def fingerprint(service: QueryService, tmp_path: Path) -> tuple[object, ...]:
    """Everything a refused statement could have changed: rows, relations, settings, files."""
    def one(sql: str) -> object:
        return service.run_sql(sql).rows
    rows = one("SELECT count(*), sum(hash(trace_id, span_id, duration_ns, attributes::VARCHAR)) FROM spans")
    relations = one("SELECT table_name, table_type FROM information_schema.tables ORDER BY ALL")
    settings = one("SELECT name, value FROM duckdb_settings() WHERE name IN "
                   "('enable_external_access', 'lock_configuration', 'memory_limit', 'threads') ORDER BY name")
    macros = one("SELECT count(*) FROM duckdb_functions() WHERE function_type LIKE '%macro%' AND NOT internal")
    files = sorted((str(p.relative_to(tmp_path)), hashlib.sha256(p.read_bytes()).hexdigest() if p.name.endswith(
        ".duckdb") else "") for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".wal"))
    return rows, relations, settings, macros, tuple(files)


ESCAPES = {
    "copy to file": ("COPY (SELECT * FROM spans) TO '{tmp}/out.csv'", "COPY"),
    "copy from file": ("COPY span_data FROM '/etc/passwd'", "COPY"),
    "attach": ("ATTACH '{tmp}/other.duckdb' AS other", "ATTACH"),
    "install": ("INSTALL httpfs", "extensions"),
    "load": ("LOAD httpfs", "extensions"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "files"),
    "read_text": ("SELECT * FROM read_text('/etc/passwd')", "files"),
    "read_blob": ("SELECT * FROM read_blob('/etc/passwd')", "files"),
    "read_parquet over http": ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "refused"),
    "glob": ("SELECT * FROM glob('/etc/*')", "files"),
    "pragma": ("PRAGMA enable_external_access", "PRAGMA"),
    "set": ("SET enable_external_access = true", "settings"),
    "reset": ("RESET memory_limit", "refused"),
    "set variable": ("SET VARIABLE x = 1", "settings"),
    "insert": ("INSERT INTO span_data SELECT * FROM span_data", "refused"),
    "update": ("UPDATE span_data SET duration_ns = 0", "refused"),
    "delete": ("DELETE FROM span_data", "refused"),
    "create table": ("CREATE TABLE t AS SELECT 1", "refused"),
    "create macro": ("CREATE MACRO m(x) AS x", "refused"),
    "drop view": ("DROP VIEW spans", "refused"),
    "alter": ("ALTER TABLE span_data ADD COLUMN x INT", "refused"),
    "checkpoint": ("CHECKPOINT", "refused"),
    "detach": ("DETACH DATABASE tracehouse", "refused"),
    "export database": ("EXPORT DATABASE '{tmp}/dump'", "refused"),
    "begin": ("BEGIN TRANSACTION", "refused"),
    "several statements": ("SELECT 1; DELETE FROM span_data", "one statement"),
    "select then set": ("SELECT 1; SET threads = 1", "one statement"),
    # A real checkpoint (it rewrites the store file), and the store file's own bytes, where data
    # removed by retention may remain.
    "checkpoint function": ("SELECT * FROM checkpoint()", "writes the store file"),
    "force_checkpoint function": ("SELECT * FROM force_checkpoint()", "writes the store file"),
    "read_blob of the store file": ("SELECT content FROM read_blob('{tmp}/data/tracehouse.duckdb')", "files"),
    "read_text of the store file": ("SELECT content FROM read_text('{tmp}/data/tracehouse.duckdb')", "files"),
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_is_refused_and_the_store_is_unchanged(name: str, service: QueryService, tmp_path: Path) -> None:
    sql, reason = ESCAPES[name]
    sql = sql.replace("{tmp}", str(tmp_path))
    before = fingerprint(service, tmp_path)
    with pytest.raises(StoreError) as refused:
        service.run_sql(sql)
    assert not isinstance(refused.value, SqlTimeoutError)
    message = str(refused.value)
    assert reason.lower() in message.lower(), message
    assert "root:" not in message          # nothing of the file leaked into the message
    assert fingerprint(service, tmp_path) == before
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "dump").exists()


@pytest.mark.parametrize("sql", [
    "WITH x AS (DELETE FROM span_data RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (INSERT INTO tracehouse_meta VALUES ('k', 'v') RETURNING *) SELECT * FROM x",
    "WITH x AS (UPDATE span_data SET span_name = 'x' RETURNING *) SELECT count(*) FROM x",
    "EXPLAIN ANALYZE DELETE FROM span_data",
    "/* hidden */ explain analyse SELECT 1",
])
def test_a_write_hidden_in_a_select_is_refused(service: QueryService, tmp_path: Path, sql: str) -> None:
    # DuckDB's statement type calls a data-modifying CTE a SELECT; the parse-tree check refuses it.
    before = fingerprint(service, tmp_path)
    with pytest.raises(SqlRefusedError, match="refused"):
        service.run_sql(sql)
    assert fingerprint(service, tmp_path) == before


def test_plain_explain_is_allowed(service: QueryService) -> None:
    assert service.run_sql("EXPLAIN SELECT count(*) FROM spans").rows


def test_statement_kinds_are_refused_before_anything_runs(service: QueryService) -> None:
    for sql in ("DELETE FROM span_data", "SELECT 1; SELECT 2", "PRAGMA version", "SET threads = 1"):
        with pytest.raises(SqlRefusedError):
            service.run_sql(sql)


def test_row_cap_flags_truncation(service: QueryService) -> None:
    result = service.run_sql("SELECT * FROM range(50)", max_rows=10)
    assert len(result.rows) == 10 and result.truncated
    whole = service.run_sql("SELECT * FROM range(10)", max_rows=10)
    assert len(whole.rows) == 10 and not whole.truncated


def test_time_limit_stops_a_long_query(service: QueryService) -> None:
    with pytest.raises(SqlTimeoutError, match="time limit"):
        service.run_sql("SELECT count(*) FROM range(10000000000) a", timeout_seconds=0.3)
    assert service.run_sql("SELECT 42").rows == [(42,)]


def test_the_helper_views_answer(service: QueryService) -> None:
    traces = service.run_sql("SELECT count(*) FROM traces").rows[0][0]
    edges = service.run_sql("SELECT count(*) FROM edges WHERE child_service = 'ledger'").rows[0][0]
    assert traces == 200 and edges > 150


@pytest.mark.parametrize("sql", [
    "SELECT len(range(1000000000))",               # 81 s and 20 GB before it was refused
    "SELECT repeat('x', 2000000000)",              # 48 s and 4.1 GB
    "SELECT 'x'.repeat(2000000000)",
    "SELECT len(generate_series(1, 1000000000))",
    "SELECT len(list_resize([1], 1000000000))",
    "SELECT lpad('x', 2000000000, 'y')",
])
def test_a_value_too_large_to_interrupt_is_refused_before_it_runs(service: QueryService, sql: str) -> None:
    """DuckDB builds such a value in one step, which neither its time limit (an interrupt between
    vectors) nor its memory limit stops; the sandbox refuses a constant size past the cap before
    anything runs (sizes that depend on the data meet the worker's cap: test_hostile_sql.py)."""
    started = time.perf_counter()
    with pytest.raises(SqlRefusedError, match="in one step, more than 1,000,000"):
        service.run_sql(sql, timeout_seconds=1.0)
    assert time.perf_counter() - started < 1.0


def test_small_generated_values_and_streamed_ranges_still_run(service: QueryService) -> None:
    assert service.run_sql("SELECT len(range(1000)), repeat('ab', 3), generate_series(1, 3)").rows == [
        (1000, "ababab", [1, 2, 3])]
    assert service.run_sql("SELECT count(*) FROM range(2000000)").rows == [(2_000_000,)]
