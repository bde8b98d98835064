"""The ingest pipeline on a real DuckDB store: acknowledged spans reach the store, in large commits,
a full queue refuses at once, and what was acknowledged before a crash is replayed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pytest
from bench.fbaas_shape import SPANS_PER_TRACE, RequestFactory

from tracehouse.otlp.prepare import prepare_protobuf
from tracehouse.receiver.ingest import Ingest, QueueFullError
from tracehouse.receiver.spool import Spool
from tracehouse.store import WriteResult
from tracehouse.stores.duckdb import DuckDBStore


def _ingest(tmp_path: Path, store: DuckDBStore, **kwargs: int) -> Ingest:
    options = {"max_pending_spans": 100_000, "max_batch_spans": 50_000, "decode_workers": 0, **kwargs}
    ingest = Ingest(store, Spool(tmp_path / "spool"), **options)
    ingest.recover()
    ingest.start()
    return ingest


def _submit(ingest: Ingest, requests: int) -> list[Future[None]]:
    """Submit `requests` FBaaS-shaped requests of 100 spans each."""
    factory = RequestFactory(100)
    return [ingest.submit(prepare_protobuf(factory.next_body()).payload, 100) for _ in range(requests)]


def _store_all(ingest: Ingest, futures: list[Future[None]]) -> None:
    """Wait until every submitted request is acknowledged and stored, then close the pipeline."""
    for future in futures:
        future.result(timeout=30)
    assert ingest.wait_stored(timeout=30)
    ingest.close()


def test_acknowledged_spans_are_stored_in_few_commits(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = _ingest(tmp_path, store)
    _store_all(ingest, _submit(ingest, 50))
    assert store.span_count() == 5000
    # 50 requests went into fewer commits than requests: the store is written in batches.
    assert ingest.stats.commits < 50
    store.close()


def test_a_full_queue_refuses_at_once(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = Ingest(store, Spool(tmp_path / "spool"), max_pending_spans=150, max_batch_spans=100,
                    decode_workers=0)
    ingest.recover()  # not started: nothing drains, so the queue fills
    payload = prepare_protobuf(RequestFactory(100).next_body()).payload
    ingest.submit(payload, 100)
    started = time.perf_counter()
    with pytest.raises(QueueFullError) as refused:
        ingest.submit(payload, 100)
    assert time.perf_counter() - started < 0.5
    assert refused.value.retry_after_seconds >= 1
    ingest.start()
    ingest.close()
    store.close()


def test_spooled_but_unstored_spans_are_replayed_on_start(tmp_path: Path) -> None:
    factory = RequestFactory(50)
    spool = Spool(tmp_path / "spool")
    list(spool.recover())
    spool.append([prepare_protobuf(factory.next_body()).payload for _ in range(4)])  # acknowledged, then a crash
    spool.close()
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = Ingest(store, Spool(tmp_path / "spool"), 10_000, 10_000, decode_workers=0)
    assert ingest.recover() > 0      # the backlog's bytes; it is replayed in the background
    ingest.start()
    assert ingest.wait_stored(timeout=30)
    assert store.span_count() == 200
    assert ingest.stats.replayed == 200
    ingest.close()
    store.close()


def test_decoding_in_a_worker_process_gives_the_same_rows(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = _ingest(tmp_path, store, decode_workers=1)
    body = RequestFactory(25).next_body()
    ingest.submit(prepare_protobuf(body).payload, 25).result(timeout=30)
    assert ingest.wait_stored(timeout=30)
    ingest.close()
    rows = store.run_sql("SELECT count(*), count(DISTINCT trace_id), min(service_name) FROM spans", 10, 10).rows
    assert rows == [(25, 5, "buzzer")]
    store.close()


def _queued(tmp_path: Path, store: DuckDBStore, requests: int) -> tuple[Ingest, list[Future[None]]]:
    """An Ingest in batches of 250 spans with `requests` 100-span requests submitted before it starts."""
    ingest = Ingest(store, Spool(tmp_path / "spool"), max_pending_spans=100_000, max_batch_spans=250,
                    decode_workers=0)
    ingest.recover()
    return ingest, _submit(ingest, requests)


def test_under_load_commits_are_exactly_the_batch_size(tmp_path: Path) -> None:
    """While more spans wait than one batch holds, every commit is exactly max_batch_spans rows
    (requests are split across commits to get there), and each span is stored once."""
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest, futures = _queued(tmp_path, store, 20)
    ingest.start()   # everything is queued before the pipeline runs: 2,000 spans, 8 batches of 250
    for future in futures:
        future.result(timeout=30)
    assert ingest.wait_stored(timeout=30)
    ingest.close()
    assert ingest.stats.commits == 8
    rows = store.run_sql("SELECT count(*), count(DISTINCT span_id) FROM spans", 10, 10).rows
    assert [tuple(r) for r in rows] == [(2000, 2000)]
    store.close()
    # Everything was marked applied: a restart replays nothing.
    store = DuckDBStore(tmp_path / "t.duckdb")
    assert Ingest(store, Spool(tmp_path / "spool"), 10_000, 250, decode_workers=0).recover() == 0  # no backlog
    store.close()


class _GatedStore(DuckDBStore):
    """A real store whose writes wait until the test opens the gate, as a slow disk would make them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()

    def write_spans(self, batch: pa.Table) -> WriteResult:
        self.gate.wait(30)
        return super().write_spans(batch)


def test_decoding_stays_two_batches_ahead_of_a_slow_store(tmp_path: Path) -> None:
    """Acknowledged spans may wait in the spool up to the queue cap, but only two batches' worth are
    decoded into memory while the store is busy; the rest is decoded as the store catches up."""
    store = _GatedStore(tmp_path / "t.duckdb")
    ingest, futures = _queued(tmp_path, store, 30)
    ingest.start()
    for future in futures:
        future.result(timeout=30)   # acknowledged: durable in the spool, not yet decoded
    # The decode thread takes whole requests of 100 spans, up to 250 at a time, until 500 are held...
    deadline = time.monotonic() + 10
    while ingest.decoded_rows < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)   # ...and then stops, though 2,500 more acknowledged spans wait.
    assert 500 <= ingest.decoded_rows < 500 + 250
    store.gate.set()
    assert ingest.wait_stored(timeout=30)
    assert ingest.decoded_rows == 0
    ingest.close()
    assert store.span_count() == 3000
    store.close()


def _heavy_payload(factory: RequestFactory, pad_bytes: int) -> bytes:
    """A request of the factory's spans, each with one attribute of `pad_bytes` (heavy spans)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(factory.next_body())
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.attributes.add(key="pad").value.string_value = "x" * pad_bytes
    return prepare_protobuf(request.SerializeToString()).payload


def test_decoded_values_stay_within_one_commit_of_bytes(tmp_path: Path) -> None:
    """Heavy spans fill memory by bytes long before they do by rows: while the store is busy, the
    decode thread holds at most DECODED_MAX_BYTES of values (one commit's worth, the batch being
    written included), however many acknowledged bytes wait in the spool (ADR 12, the memory
    budget). At 2 x COMMIT_MAX_BYTES, as before, it held ~64 MiB here."""
    from tracehouse.receiver.ingest import DECODE_CHUNK_BYTES, DECODED_MAX_BYTES

    store = _GatedStore(tmp_path / "t.duckdb")
    ingest = Ingest(store, Spool(tmp_path / "spool"), max_pending_spans=100_000, max_batch_spans=50_000,
                    decode_workers=0)
    ingest.recover()
    factory = RequestFactory(SPANS_PER_TRACE * 4)
    spans = SPANS_PER_TRACE * 4
    payloads = [_heavy_payload(factory, (900 * 2**10) // spans) for _ in range(80)]   # ~0.9 MiB each
    futures = [ingest.submit(p, spans) for p in payloads]
    ingest.start()
    for future in futures:
        future.result(timeout=60)   # ~72 MiB acknowledged, durable in the spool
    deadline = time.monotonic() + 30
    held = 0
    while time.monotonic() < deadline:
        now = ingest.decoded_bytes
        if now == held and now >= DECODED_MAX_BYTES:
            break   # the decode thread has stopped at the cap
        held = now
        time.sleep(0.5)
    assert DECODED_MAX_BYTES <= held <= DECODED_MAX_BYTES + 2 * DECODE_CHUNK_BYTES, held / 2**20
    assert ingest.decoded_rows < len(payloads) * spans
    store.gate.set()
    assert ingest.wait_stored(timeout=60)
    assert ingest.decoded_bytes == 0
    ingest.close()
    assert store.span_count() == len(payloads) * spans
    store.close()


def test_a_failed_decode_is_retried_and_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk the decoder fails on (a bug or a broken worker: payloads are validated when received)
    is decoded again, not skipped, and the decode thread goes on with the chunks behind it."""
    monkeypatch.setattr("tracehouse.receiver.ingest.RETRY_SECONDS", 0.05)
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = _ingest(tmp_path, store, max_batch_spans=100)
    decode = ingest._decoder.decode
    failures = [2]

    def flaky(payloads: list[bytes]) -> tuple[pa.Table | None, int, str]:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("worker broke")
        return decode(payloads)

    monkeypatch.setattr(ingest._decoder, "decode", flaky)
    _store_all(ingest, _submit(ingest, 5))
    assert failures == [0]
    assert store.span_count() == 500
    store.close()


def test_a_commit_is_cut_before_a_vector_of_it_holds_too_many_value_bytes() -> None:
    """Rows of 1 MiB each: a commit takes 8 of them (an 8 MiB window), not a whole batch; light
    rows still fill whole batches."""
    from collections import deque

    from tracehouse.receiver.ingest import _Batch, take_rows
    from tracehouse.receiver.spool import Position

    heavy = pa.table({"x": list(range(60))})
    parts = deque([_Batch(heavy, Position(1, 100), 60, 60 * 2**20, [2**20] * 60)])
    table, end, spans, _, sizes = take_rows(parts, 61_440)
    assert table is not None and table.num_rows == 8 and sum(sizes) == 8 * 2**20
    assert end is None and spans == 0            # the request is not taken whole yet
    assert parts[0].table is not None and parts[0].table.num_rows == 52

    light = pa.table({"x": list(range(10_000))})
    parts = deque([_Batch(light, Position(1, 200), 10_000, 3_000_000, [300] * 10_000)])
    table, end, spans, _, _ = take_rows(parts, 4_096)
    assert table is not None and table.num_rows == 4_096 and len(parts) == 1


def test_closing_during_the_backlog_replay_keeps_the_backlog_and_later_spans(tmp_path: Path) -> None:
    """Shut down while the backlog is still being replayed, with new spans spooled behind it:
    nothing is marked applied past the backlog, so the next start stores all of it."""
    factory = RequestFactory(5)
    spool = Spool(tmp_path / "spool")
    list(spool.recover())
    for _ in range(8):   # 4,000 small requests, 20,000 spans to replay
        spool.append([prepare_protobuf(factory.next_body()).payload for _ in range(500)])
    spool.close()
    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = Ingest(store, Spool(tmp_path / "spool"), 100_000, 250, decode_workers=0)
    ingest.recover()
    ingest.start()
    later = _submit(ingest, 3)
    for future in later:
        future.result(timeout=30)
    ingest.close(timeout=5)
    store.close()
    store = DuckDBStore(tmp_path / "t.duckdb")
    again = Ingest(store, Spool(tmp_path / "spool"), 100_000, 250, decode_workers=0)
    again.recover()
    again.start()
    assert again.wait_stored(timeout=60)
    again.close()
    assert store.span_count() == 4_000 * 5 + 3 * 100
    store.close()


def test_a_request_is_not_held_once_spooled_and_stored(tmp_path: Path) -> None:
    """The pipeline reads spans back from the spool, so once a request is acknowledged nothing in
    it keeps the request's bytes: the sync thread held the last group it appended while it waited
    for the next, a whole request of up to --max-body (49 MiB after the 1M-span request; ADR 12,
    decision 12)."""
    import sys

    store = DuckDBStore(tmp_path / "t.duckdb")
    ingest = _ingest(tmp_path, store)
    prepared = prepare_protobuf(RequestFactory(500).next_body())
    payload = prepared.records[0][0]
    baseline = sys.getrefcount(payload)
    future = ingest.submit_prepared(prepared)
    del prepared
    future.result(timeout=30)
    assert ingest.wait_stored(timeout=30)
    time.sleep(0.2)       # the threads are back to waiting
    assert sys.getrefcount(payload) == baseline - 1, "something in the pipeline still holds the request"
    ingest.close()
    assert store.span_count() == 500
    store.close()
