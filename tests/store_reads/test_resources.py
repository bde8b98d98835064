"""DuckDB keeps each resource once (resource_data) and each span row points at it (ADR 9): what
readers see is unchanged, retention drops resources no span uses, and a version 1 store (resource
attributes in every row) is upgraded in place."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from tracehouse.store import IncompatibleStoreError
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.connection import SCHEMA_VERSION
from tracehouse.stores.duckdb.resources import resource_id

from .fixture_store import ALL, batch_of, version_1_store, wide_trace_batch


def _resources_by_span(store: DuckDBStore) -> dict[str, object]:
    rows = store._cursor().execute(
        "SELECT span_id, resource_attributes::JSON::VARCHAR FROM spans").fetchall()
    return {span_id: orjson.loads(text) if text is not None else None for span_id, text in rows}


def _expected_by_span(batch: pa.Table) -> dict[str, object]:
    return {sid.hex(): orjson.loads(text) for sid, text in
            zip(batch.column("span_id").to_pylist(), batch.column("resource_attributes").to_pylist(), strict=True)}


def test_each_resource_is_stored_once_and_every_span_reads_its_own(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    start = time.time_ns() - 60 * 10**9
    fixtures = batch_of(*ALL, start_ns=start)
    wide = wide_trace_batch(300, start + 10**9)
    store.write_spans(fixtures)
    store.write_spans(wide)
    store.write_spans(fixtures)   # resent: no new span, no new resource
    texts = {*fixtures.column("resource_attributes").to_pylist(), *wide.column("resource_attributes").to_pylist()}
    con = store._cursor()
    counts = con.execute("SELECT count(*), count(DISTINCT resource_id) FROM resource_data").fetchall()
    assert counts == [(len(texts), len(texts))]
    ids = sorted(r[0] for r in con.execute("SELECT resource_id FROM resource_data").fetchall())
    assert ids == sorted(map(resource_id, texts))
    orphans = con.execute("SELECT count(*) FROM span_data ANTI JOIN resource_data USING (resource_id)").fetchall()
    assert orphans == [(0,)]
    assert _resources_by_span(store) == {**_expected_by_span(fixtures), **_expected_by_span(wide)}
    # Typed values and dotted keys read as before, through the view.
    version = con.execute("SELECT DISTINCT resource_attributes['service.version']::VARCHAR FROM spans "
                          "WHERE service_name = 'buzzer'").fetchall()
    assert version == [("1.4.2",)]


def test_a_plain_text_column_and_a_missing_resource_are_accepted(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    batch = wide_trace_batch(3, time.time_ns() - 10**9)
    plain = batch.set_column(batch.schema.get_field_index("resource_attributes"), "resource_attributes",
                             pa.array(['{"service.name":"edge"}', None, '{"service.name":"edge"}'], pa.string()))
    assert store.write_spans(plain).stored == 3
    assert sorted(map(orjson.dumps, _resources_by_span(store).values())) == sorted(
        [b'{"service.name":"edge"}', b"{}", b'{"service.name":"edge"}'])


def test_retention_drops_the_resources_no_span_uses(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    old, new = time.time_ns() - 3600 * 10**9, time.time_ns() - 60 * 10**9
    store.write_spans(wide_trace_batch(20, old, trace_id="01" * 16))           # edge, router, worker
    store.write_spans(batch_of(*ALL, start_ns=new))                            # hub, fizzer, buzzer
    assert store.delete_before(new - 10**9) == 20
    left = {orjson.loads(t)["service.name"] for (t,) in
            store._cursor().execute("SELECT attributes::JSON::VARCHAR FROM resource_data").fetchall()}
    assert left == {"hub", "fizzer", "buzzer"}


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    resources = ['{"service.name":"hub","service.version":"2.0"}', '{"service.name":"hub","service.version":"2.0"}',
                 '{"service.name":"db","port":5432}', None]
    span_ids = version_1_store(path, resources)
    with pytest.raises(IncompatibleStoreError, match="tracehouse up"):
        DuckDBStore(path, read_only=True)   # a reader must not rewrite the file
    store = DuckDBStore(path)
    con = store._cursor()
    assert con.execute("SELECT value FROM tracehouse_meta WHERE key = 'schema_version'").fetchall() == [
        (SCHEMA_VERSION,)]
    assert _resources_by_span(store) == {s: orjson.loads(r) if r else {} for s, r in zip(span_ids, resources,
                                                                                          strict=True)}
    assert con.execute("SELECT count(*) FROM resource_data").fetchall() == [(3,)]
    assert con.execute("SELECT attributes['n']::INTEGER AS n FROM spans ORDER BY n").fetchall() == [
        (0,), (1,), (2,), (3,)]
    store.write_spans(wide_trace_batch(5, time.time_ns()))
    assert store.span_count() == 9
    store.close()
    # Upgraded once: reopening finds the current version and changes nothing.
    again = DuckDBStore(path, read_only=True)
    assert again.span_count() == 9
    again.close()
