"""Schema version 3 keeps what OTLP carries beyond version 2 — span flags, link flags, the scope's
attributes and schema URL, the resource's schema URL — and upgrades a version 2 store in place by
adding columns: old spans keep every value they had, with the new fields left unrecorded (null)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tracehouse.otlp.json import decode_json
from tracehouse.query.spans import spans_from_rows
from tracehouse.store import IncompatibleStoreError
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.connection import SCHEMA_VERSION

from .fixture_store import version_2_store

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _body(start_ns: int) -> bytes:
    return (
        b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},'
        b'"schemaUrl":"https://opentelemetry.io/schemas/1.26.0","scopeSpans":[{"scope":{"name":"lib","version":"2",'
        b'"attributes":[{"key":"scope.k","value":{"intValue":"7"}}]},"schemaUrl":"https://s/scope",'
        b'"spans":[{"traceId":"' + TRACE.encode() + b'","spanId":"00f067aa0ba902b7","flags":769,"name":"op",'
        b'"kind":2,"startTimeUnixNano":"' + str(start_ns).encode() + b'","endTimeUnixNano":"'
        + str(start_ns + 1000).encode() + b'","links":[{"traceId":"' + TRACE.encode()
        + b'","spanId":"00f067aa0ba902b8","flags":257}]}]}]}]}')


def test_new_fields_are_stored_and_read_back(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.write_spans(decode_json(_body(time.time_ns() - 10**9)).table)
    [span] = spans_from_rows(store.get_spans([TRACE]))
    assert span.flags == 769
    assert span.scope_attributes == {"scope.k": 7}
    assert (span.scope_schema_url, span.resource_schema_url) == ("https://s/scope",
                                                                 "https://opentelemetry.io/schemas/1.26.0")
    assert span.links[0]["flags"] == 257
    # The users' view shows them too.
    row = store._cursor().execute("SELECT flags, scope_attributes['scope.k']::INT, scope_schema_url, "
                                  "resource_schema_url FROM spans").fetchall()
    assert row == [(769, 7, "https://s/scope", "https://opentelemetry.io/schemas/1.26.0")]
    store.close()


def test_a_version_2_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.duckdb"
    old_ids = version_2_store(path, traces=50)
    with pytest.raises(IncompatibleStoreError, match="tracehouse up"):
        DuckDBStore(path, read_only=True)   # a reader must not rewrite the file
    store = DuckDBStore(path)
    con = store._cursor()
    assert con.execute("SELECT value FROM tracehouse_meta WHERE key = 'schema_version'").fetchall() == [
        (SCHEMA_VERSION,)]
    old = spans_from_rows(store.get_spans(old_ids[:3]))
    assert [(s.trace_id, s.attributes, s.resource_attributes, s.scope_name) for s in old] == [
        (t, {"n": i}, {"service.name": "hub"}, "scope") for i, t in enumerate(old_ids[:3])]
    assert [(s.flags, s.scope_attributes, s.scope_schema_url, s.resource_schema_url) for s in old] == [
        (None, {}, None, None)] * 3
    store.write_spans(decode_json(_body(time.time_ns() - 10**9)).table)
    assert store.span_count() == 51
    [new] = spans_from_rows(store.get_spans([TRACE]))
    assert new.flags == 769 and new.scope_attributes == {"scope.k": 7}
    store.close()
    again = DuckDBStore(path, read_only=True)   # upgraded once: nothing left to do
    assert again.span_count() == 51
    again.close()
