"""`tracehouse sql --store clickhouse://...`: the console's guarantees on ClickHouse, from the command
line: read-only, a time limit, a row cap, a memory cap, and nothing that reaches outside the store,
whatever the query tries (the store-level refusal list is in tests/store_conformance/test_sql.py)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.backend.conftest import PYTHON, clean_env
from tests.store_conformance.traces import batch, traces

from tracehouse.store import SqlMemoryError
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location


@pytest.fixture(scope="module")
def store_url(clickhouse_server: ClickHouseServer) -> Iterator[str]:
    url = f"clickhouse://127.0.0.1:{clickhouse_server.http_port}/sqlcli_{uuid.uuid4().hex[:10]}"
    store = ClickHouseStore(parse_location(url))
    store.write_spans(batch(traces(20)))
    store.close()
    yield url


def tracehouse_sql(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tracehouse", "sql", *args], capture_output=True, text=True,
                          env=clean_env(env), timeout=120, check=False)


def test_a_query_answers_in_every_format(store_url: str) -> None:
    query = "SELECT service_name, count(*) AS spans FROM spans GROUP BY service_name ORDER BY service_name"
    result = tracehouse_sql("--store", store_url, "--format", "json", query)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"service_name": s, "spans": n}
                                         for s, n in (("buzzer", 20), ("fizzer", 20), ("hub", 60))]
    from_env = tracehouse_sql("--format", "csv", query, env={"TRACEHOUSE_STORE": store_url})
    assert from_env.returncode == 0, from_env.stderr
    assert from_env.stdout.splitlines() == ["service_name,spans", "buzzer,20", "fizzer,20", "hub,60"]


# Each through the real command line (the full list runs in-process, in the conformance suite).
@pytest.mark.parametrize("attempt", [
    "SELECT * FROM spans WHERE span_name = '' UNION ALL SELECT * FROM file('/etc/passwd', 'CSV', 'l String')",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1; DROP TABLE span_data_local",
])
def test_escape_attempts_are_refused_and_change_nothing(store_url: str, attempt: str) -> None:
    result = tracehouse_sql("--store", store_url, attempt)
    assert result.returncode != 0
    assert "refused" in result.stderr.lower(), result.stderr
    assert "root:" not in result.stdout + result.stderr
    store = ClickHouseStore(parse_location(store_url), read_only=True)
    try:
        assert store.span_count() == 100 and len(store.services()) == 3
    finally:
        store.close()


def test_time_limit_and_row_cap(store_url: str) -> None:
    slow = tracehouse_sql("--store", store_url, "SELECT count() FROM system.numbers",
                          env={"TRACEHOUSE_SQL_TIMEOUT": "1"})
    assert slow.returncode != 0 and "time limit" in slow.stderr, slow.stderr
    capped = tracehouse_sql("--store", store_url, "--format", "json", "--max-rows", "7",
                            "SELECT span_id FROM spans ORDER BY span_id")
    assert capped.returncode == 0, capped.stderr
    assert len(json.loads(capped.stdout)) == 7 and "truncated" in capped.stderr


def test_memory_cap_stops_a_query_that_needs_more(store_url: str) -> None:
    store = ClickHouseStore(parse_location(store_url), read_only=True, sql_memory_bytes=30 * 10**6)
    try:
        with pytest.raises(SqlMemoryError) as info:
            store.run_sql("SELECT number, count() FROM (SELECT number FROM system.numbers LIMIT 20000000) "
                          "GROUP BY number", 10, 30)
        assert "memory" in str(info.value).lower()
        assert store.run_sql("SELECT count() FROM spans", 10, 10).rows == [(100,)]
    finally:
        store.close()
