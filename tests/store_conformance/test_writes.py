"""SpanWriter guarantees: idempotent, atomic, visible and durable on return; empty reads are answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc
import pytest
from bench.fbaas_shape import RequestFactory
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.model import SPAN_ROW_SCHEMA, TraceQuery
from tracehouse.otlp.columns import to_columns
from tracehouse.store import Store, WriteResult

from .conftest import STORE_FACTORIES, StoreFactory
from .traces import BASE_NS, MS, Trace, batch, fbaas_trace, traces


def trace_ids(store: Store, hex_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(store.get_spans(hex_ids).column("trace_id").to_pylist()))


def test_an_empty_store_answers_with_empty_results(store: Store) -> None:
    assert store.span_count() == 0
    for ids in ([], ["0" * 32], [os.urandom(16).hex()], ["not hex"], [""], ["ab" * 20]):
        spans = store.get_spans(ids)
        assert spans.num_rows == 0
        assert spans.schema.equals(SPAN_ROW_SCHEMA)
    assert store.services() == []
    assert store.operations(None) == []
    assert store.operations("hub", "SERVER") == []
    assert store.find_traces(TraceQuery()) == []
    assert store.find_traces(TraceQuery(service="hub", attributes={"a": "b"}, duration_min_ns=1)) == []
    assert store.dependencies(0, 2**62) == []
    assert store.write_spans(batch()) == WriteResult(received=0, stored=0)
    assert store.span_count() == 0


def test_written_spans_read_back_faithfully(store: Store) -> None:
    trace = fbaas_trace(error_in="buzzer", number=15)
    other = fbaas_trace(BASE_NS + 100 * MS)
    assert store.write_spans(batch(trace, other)) == WriteResult(received=10, stored=10)
    assert store.span_count() == 10
    spans = store.get_spans([trace.hex])
    assert spans.schema.equals(SPAN_ROW_SCHEMA)
    rows = spans.to_pylist()
    # Ordered by start time; every field as written, in the reader's vocabulary.
    assert [r["span_id"] for r in rows] == [trace.span_ids[n].hex() for n in
                                            ("root", "call-fizzer", "fizzer", "call-buzzer", "buzzer")]
    for got in rows:
        sent = next(r for r in trace.rows if r["span_id"].hex() == got["span_id"])
        assert got["trace_id"] == trace.hex
        assert got["parent_span_id"] == (sent["parent_span_id"].hex() if sent["parent_span_id"] else None)
        assert got["trace_state"] == sent["trace_state"]
        assert (got["service_name"], got["span_name"]) == (sent["service_name"], sent["span_name"])
        assert got["span_kind"] == {2: "SERVER", 3: "CLIENT"}[sent["span_kind"]]
        assert got["start_time_unix_nano"] == sent["start_time_unix_nano"]
        assert got["duration_ns"] == sent["end_time_unix_nano"] - sent["start_time_unix_nano"]
        assert got["status_code"] == ("ERROR" if sent["status_code"] == 2 else "UNSET")
        assert got["status_message"] == sent["status_message"]
        assert json.loads(got["attributes"]) == json.loads(sent["attributes"])
        assert json.loads(got["resource_attributes"]) == json.loads(sent["resource_attributes"])
        assert (json.loads(got["events"]) if got["events"] else None) == (
            json.loads(sent["events"]) if sent["events"] else None)
        assert (got["scope_name"], got["scope_version"]) == ("fbaas", "0.1")
    # Several ids at once: ordered by trace, unknown and repeated ids ignored.
    both = store.get_spans([other.hex, "0" * 32, trace.hex, other.hex])
    assert both.num_rows == 10
    assert sorted(set(both.column("trace_id").to_pylist())) == sorted([trace.hex, other.hex])


def test_a_resent_batch_is_stored_once(store: Store) -> None:
    sent = traces(3)
    assert store.write_spans(batch(sent)) == WriteResult(received=15, stored=15)
    assert store.write_spans(batch(sent)) == WriteResult(received=15, stored=0)
    more = fbaas_trace(BASE_NS + 10 * MS)
    assert store.write_spans(batch(sent[0], more)) == WriteResult(received=10, stored=5)
    assert store.span_count() == 20
    assert store.get_spans([sent[0].hex]).num_rows == 5


def test_duplicates_inside_one_batch_are_stored_once(store: Store) -> None:
    trace = fbaas_trace()
    table = batch(trace, trace, trace.row("root"))
    assert table.num_rows == 11
    result = store.write_spans(table)
    assert result == WriteResult(received=11, stored=5)
    assert store.span_count() == 5
    assert sorted(store.get_spans([trace.hex]).column("span_id").to_pylist()) == sorted(
        s.hex() for s in trace.span_ids.values())


def test_the_same_span_id_at_another_start_time_is_another_span(store: Store) -> None:
    """The idempotence key is (trace_id, span_id, start time): only byte-identical resends collapse."""
    trace = fbaas_trace()
    moved = dict(trace.row("fizzer"), start_time_unix_nano=trace.row("fizzer")["start_time_unix_nano"] + 1)
    assert store.write_spans(batch(trace)).stored == 5
    assert store.write_spans(batch(moved)).stored == 1
    assert store.span_count() == 6


def test_a_failing_batch_stores_nothing(store: Store) -> None:
    kept = fbaas_trace()
    store.write_spans(batch(kept))
    good, bad = fbaas_trace(BASE_NS + 5 * MS), fbaas_trace(BASE_NS + 6 * MS)
    bad.rows[3]["span_name"] = None      # not storable: every span has a name
    with pytest.raises(Exception):  # noqa: B017 - the contract names no type, only "on exception"
        store.write_spans(batch(good, bad))
    assert store.span_count() == 5
    assert store.get_spans([good.hex, bad.hex]).num_rows == 0
    assert [t.trace_id for t in store.find_traces(TraceQuery())] == [kept.hex]
    # The store still takes writes, including the good half on its own.
    assert store.write_spans(batch(good)).stored == 5
    assert store.span_count() == 10


def test_spans_are_visible_to_other_threads_on_return(store: Store) -> None:
    seen: list[int] = []
    for k, trace in enumerate(traces(5)):
        store.write_spans(batch(trace))
        reader = threading.Thread(target=lambda t=trace: seen.append(store.get_spans([t.hex]).num_rows
                                                                     + 1000 * store.span_count()))
        reader.start()
        reader.join()
        assert seen[-1] == 5 + 1000 * 5 * (k + 1)


def test_spans_survive_close_and_reopen(open_store: Callable[..., Store]) -> None:
    store = open_store()
    sent = traces(4, error_in="fizzer")
    store.write_spans(batch(sent))
    before = store.get_spans([t.hex for t in sent])
    store.close()
    store.close()   # idempotent
    again = open_store()
    assert again.span_count() == 20
    assert again.get_spans([t.hex for t in sent]).equals(before)
    assert again.write_spans(batch(sent)).stored == 0
    again.close()
    read_only = open_store(read_only=True)
    assert read_only.span_count() == 20
    assert read_only.get_spans([sent[0].hex]).num_rows == 5


@pytest.mark.parametrize("factory", [f for f in STORE_FACTORIES if f.subprocess_source], ids=str, indirect=True)
def test_spans_survive_kill_9_right_after_write_returns(factory: StoreFactory, data_dir: Path, service: Any,
                                                        open_store: Callable[..., Store],
                                                        tmp_path: Path) -> None:
    """Durable on return: a writer killed the moment write_spans returns loses nothing. (Not chDB:
    it runs inside the test's own process.)"""
    assert factory.subprocess_source is not None
    sent: list[Trace] = traces(200, spacing_ns=MS)
    ipc = tmp_path / "batch.arrow"
    with pa.OSFile(str(ipc), "wb") as sink, pa.ipc.new_file(sink, batch(sent).schema) as writer:
        writer.write_table(batch(sent))
    script = (
        "import os, signal, sys\nfrom pathlib import Path\nimport pyarrow as pa\nimport pyarrow.ipc\n"
        f"data_dir = Path({str(data_dir)!r})\n" + factory.subprocess_source(data_dir, service) +
        f"table = pa.ipc.open_file({str(ipc)!r}).read_all()\n"
        "result = store.write_spans(table)\n"
        "print(result.stored, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "1000"
    store = open_store()
    assert store.span_count() == 1000
    assert len(trace_ids(store, [t.hex for t in sent])) == 200


def test_many_repeats_in_any_order_leave_each_span_once(store: Store) -> None:
    """Repeats scattered through a large batch: every distinct span is stored, none twice."""
    sent = traces(200)
    table = batch(*sent)
    order = list(range(table.num_rows))
    shuffled = table.take(order[::3] + order[::-1] + order[1::7])
    result = store.write_spans(shuffled)
    assert result == WriteResult(received=shuffled.num_rows, stored=table.num_rows)
    rows = store.run_sql("SELECT count(*), count(DISTINCT span_id) FROM spans", 10, 10).rows
    assert [tuple(r) for r in rows] == [(table.num_rows, table.num_rows)]


def test_a_batch_of_the_preferred_size_is_stored_once(store: Store) -> None:
    """The ingest pipeline sends batches of exactly `preferred_batch_spans` under load: the store takes
    one whole (within its default memory), and a resent one adds nothing."""
    size = store.preferred_batch_spans
    assert isinstance(size, int) and size >= 0
    if size == 0:
        return
    factory = RequestFactory(500, seed=11)
    tables = []
    while sum(t.num_rows for t in tables) < size:
        tables.append(to_columns(ExportTraceServiceRequest.FromString(factory.next_body())).table)
    table = pa.concat_tables(tables).slice(0, size)
    assert store.write_spans(table) == WriteResult(received=size, stored=size)
    assert store.write_spans(table) == WriteResult(received=size, stored=0)
    assert store.span_count() == size
