"""`tracehouse migrate --from DIR --to clickhouse://...` and `tracehouse schema --print`, through the
real command line."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pyarrow as pa
from bench.clickhouse_local import ClickHouseServer
from tests.backend.conftest import PYTHON, clean_env
from tests.store_conformance.traces import BASE_NS, MINUTE, batch, traces

from tracehouse.model import TraceQuery
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.duckdb import DuckDBStore


def tracehouse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tracehouse", *args], capture_output=True, text=True, env=clean_env(),
                          timeout=300, check=False)


def sorted_spans(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: (r["trace_id"], r["span_id"]))


def test_migrate_copies_every_span_once_and_can_be_run_again(tmp_path: Path,
                                                             clickhouse_server: ClickHouseServer) -> None:
    data = tmp_path / "data"
    data.mkdir()
    source = DuckDBStore(data / "tracehouse.duckdb")
    sent = traces(300, start_ns=BASE_NS, spacing_ns=MINUTE // 10, error_in="buzzer")   # 30 minutes of traces
    source.write_spans(batch(sent))
    ids = [t.hex for t in sent]
    expected = sorted_spans(source.get_spans(ids))
    source.close()
    url = f"clickhouse://127.0.0.1:{clickhouse_server.http_port}/migrated_{uuid.uuid4().hex[:10]}"

    first = tracehouse("migrate", "--from", str(data), "--to", url)
    assert first.returncode == 0, first.stderr
    assert "1,500 stored" in first.stdout
    again = tracehouse("migrate", "--from", str(data), "--to", url)
    assert again.returncode == 0, again.stderr
    assert "0 stored, 1,500 already there" in again.stdout

    target = ClickHouseStore(parse_location(url))
    try:
        assert target.span_count() == 1500
        assert sorted_spans(target.get_spans(ids)) == expected
        assert len(target.find_traces(TraceQuery(limit=1000))) == 300
    finally:
        target.close()


def test_migrate_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_store = tracehouse("migrate", "--from", str(empty), "--to", "clickhouse://127.0.0.1:1/x")
    assert no_store.returncode != 0 and "no tracehouse store" in no_store.stderr
    not_clickhouse = tracehouse("migrate", "--from", str(empty), "--to", "postgres://x/y")
    assert not_clickhouse.returncode != 0 and "clickhouse://" in not_clickhouse.stderr


def test_schema_print_shows_the_ddl_without_connecting() -> None:
    cluster = tracehouse("schema", "--print", "--store", "clickhouse://nowhere.invalid:8123/traces?cluster=prod")
    assert cluster.returncode == 0, cluster.stderr
    ddl = cluster.stdout
    assert "CREATE DATABASE IF NOT EXISTS `traces` ON CLUSTER `prod`" in ddl
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/traces/span_data_local', '{replica}')" in ddl
    assert "ENGINE = Distributed(`prod`, 'traces', span_data_local, cityHash64(trace_id))" in ddl
    # the links' Distributed table leaves the name inferred_links to the console's view
    assert "CREATE TABLE IF NOT EXISTS `traces`.`inferred_links_distributed` ON CLUSTER `prod`" in ddl
    assert "CREATE VIEW IF NOT EXISTS `traces`.`inferred_links` ON CLUSTER `prod`" in ddl
    assert "CREATE VIEW IF NOT EXISTS `traces`.`reconstructed_traces` ON CLUSTER `prod`" in ddl
    assert ddl.count(";\n") == 38      # 14 objects, 13 Distributed tables beside them, 3 + 2 views, 6 helper views
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/traces/trace_summary_local'" in ddl
    assert "CREATE MATERIALIZED VIEW IF NOT EXISTS `traces`.`span_index_mv` ON CLUSTER `prod`" in ddl
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/traces/service_calls_local'" in ddl
    assert ("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/traces/dependency_hours_local', "
            "'{replica}', version)") in ddl
    # Tail sampling's tables (ADR 20): sharded by trace id, replicated.
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/traces/sampling_held_span_local', '{replica}')" in ddl
    assert ("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/traces/sampling_decision_local', "
            "'{replica}', kept)") in ddl
    for table in ("sampling_held_span", "sampling_released", "sampling_decision", "sampling_minute"):
        assert f"ENGINE = Distributed(`prod`, 'traces', {table}_local, cityHash64(trace_id))" in ddl
    single = tracehouse("schema", "--print", "--store", "clickhouse://localhost/traces")
    assert "ENGINE = ReplacingMergeTree" in single.stdout and "ON CLUSTER" not in single.stdout
    assert single.stdout.count(";\n") == 25 and "ENGINE = AggregatingMergeTree" in single.stdout
    embedded = tracehouse("schema", "--print")
    assert "CREATE TABLE IF NOT EXISTS span_data" in embedded.stdout
