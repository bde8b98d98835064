"""DuckDB reads: search over the trace summary gives what search over live spans gives; the summary
stays right when a trace arrives in pieces, when a batch is resent, and after retention."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from tracehouse.model import DurationScope, SortOrder, TraceQuery
from tracehouse.stores.duckdb import DuckDBStore
from tracehouse.stores.duckdb.sql_files import sql

from .fixture_store import ALL, ERROR_XSS, OK, SLOW, batch_of, fixture_store, wide_trace_batch, write

QUERIES = [
    TraceQuery(),
    TraceQuery(service="fizzer", duration_min_ns=30 * 10**6),
    TraceQuery(service="buzzer", attributes={"error": "true"}),
    TraceQuery(attributes={"http.response.status_code": "500", "service.version": "1.4.2"}),
    TraceQuery(operation="GET", span_kind="CLIENT", sort=SortOrder.LONGEST),
    TraceQuery(service="fizzer", duration_min_ns=30 * 10**6, duration_scope=DurationScope.SPAN),
    TraceQuery(duration_max_ns=13 * 10**6, sort=SortOrder.MOST_ERRORS),
    TraceQuery(limit=1, sort=SortOrder.LONGEST),
    TraceQuery(attributes={"fbaas.n": "'; DROP TABLE span_data; --"}),
]


@pytest.fixture
def stores(tmp_path: Path) -> tuple[DuckDBStore, DuckDBStore]:
    start = time.time_ns() - 30 * 10**9
    return (fixture_store(tmp_path / "summary.duckdb", summary=True, start_ns=start),
            fixture_store(tmp_path / "live.duckdb", summary=False, start_ns=start))


@pytest.mark.parametrize("query", QUERIES)
def test_summary_and_live_agree(stores: tuple[DuckDBStore, DuckDBStore], query: TraceQuery) -> None:
    with_summary, live = stores
    assert with_summary.find_traces(query) == live.find_traces(query)
    assert with_summary.get_spans([OK, SLOW]).equals(live.get_spans([OK, SLOW]))


def test_expected_search_results(stores: tuple[DuckDBStore, DuckDBStore]) -> None:
    store = stores[0]
    assert [t.trace_id for t in store.find_traces(QUERIES[1])] == [SLOW]
    assert [t.trace_id for t in store.find_traces(QUERIES[2])] == [ERROR_XSS]
    assert [t.trace_id for t in store.find_traces(QUERIES[3])] == [ERROR_XSS]
    assert [t.trace_id for t in store.find_traces(QUERIES[5])] == [SLOW]  # its fizzer span: 40 ms
    assert store.find_traces(QUERIES[8]) == []
    assert store.span_count() == 15


def test_trace_arriving_in_pieces_and_resent(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    batch = batch_of(*ALL, start_ns=time.time_ns() - 10**10)
    # Children first, root last, one span resent in the second batch: the summary must match live.
    is_root = pa.compute.is_null(batch.column("parent_span_id"))
    write(store, batch.filter(pa.compute.invert(is_root)))
    write(store, pa.concat_tables([batch.filter(is_root), batch.slice(0, 1)]))
    write(store, batch)  # a whole resend changes nothing
    summary = store.find_traces(TraceQuery(sort=SortOrder.LONGEST))
    rows = store._cursor().execute("SELECT count(*), sum(span_count) FROM trace_summary_data").fetchall()
    assert rows == [(3, 15)] and store.span_count() == 15
    assert [(t.trace_id, t.span_count, t.root_span_name) for t in summary] == [
        (SLOW, 5, "GET /fizzbuzz/{n}"), (ERROR_XSS, 5, "GET /fizzbuzz/{n}"), (OK, 5, "GET /fizzbuzz/{n}")]
    assert summary[1].error_count == 3 and summary[1].duration_ns == 12_700_000
    assert store._reader()._summary_is_complete()
    store.close()


def test_retention_keeps_the_summary_whole(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    start = time.time_ns() - 10**10
    write(store, wide_trace_batch(50, start, "ab" * 16))
    write(store, batch_of(*ALL, start_ns=start + 10**9))
    cutoff = start + 2_000  # inside the wide trace: its first 20 spans go
    cur = store._write_cursor
    cur.execute("BEGIN")
    params = {"cutoff": cutoff, "now": time.time_ns(), "honour_pins": True}
    cur.execute(sql("admin/delete_before"), params).fetchall()
    cur.execute(sql("write/after_delete_trace_summary"), params).fetchall()
    cur.execute("COMMIT")
    assert store._reader()._summary_is_complete()
    [wide] = [t for t in store.find_traces(TraceQuery(limit=10)) if t.trace_id == "ab" * 16]
    assert wide.span_count == 30 and wide.root_span_name is not None
    assert len(store.find_traces(TraceQuery())) == 4
    store.close()


def test_dependencies_and_operations(stores: tuple[DuckDBStore, DuckDBStore]) -> None:
    store = stores[0]
    links = store.dependencies(0, 2**62)
    assert [(d.parent, d.child, d.call_count, d.error_count) for d in links] == [
        ("hub", "buzzer", 3, 1), ("hub", "fizzer", 3, 0)]
    assert store.dependencies(0, 10**9) == []
    assert [(o.name, o.span_kind) for o in store.operations("hub")] == [("GET", "CLIENT"),
                                                                          ("GET /fizzbuzz/{n}", "SERVER")]
    assert [o.name for o in store.operations(None, "SERVER")] == ["GET /buzz/{n}", "GET /fizz/{n}",
                                                                  "GET /fizzbuzz/{n}"]
    assert store.services() == ["buzzer", "fizzer", "hub"]


def test_unknown_and_malformed_ids(stores: tuple[DuckDBStore, DuckDBStore]) -> None:
    for store in stores:
        assert store.get_spans(["f" * 32, "not-hex"]).num_rows == 0
        assert store.get_spans([OK.upper()]).num_rows == 5
