"""The ingest pipeline behind both receivers: spool first (durable, acknowledged), store second.

    receivers ──submit(payload)──▶ [sync thread] spool append + one fsync per group ──▶ ack
                                          │
                                          ▼ (in memory, bounded)
                                  [decode thread] protobuf → Arrow columns, ~2k spans at a time
                                          │
                                          ▼
                                  [commit thread] store.write_spans(batch) → spool.mark_applied
                                  (batches of exactly max_batch spans while more are on the way;
                                   whatever is there once the pipeline runs dry)

Why: an acknowledgement must wait for durability, but the store is fastest with large commits of
the size it prefers (DuckDB: one row group, which it writes straight to its file). With only a
handful of clients in flight, committing each group of requests straight into the store means
small, expensive commits. The spool makes the acknowledgement cheap (append + fdatasync), and lets
the store be written in large batches while decoding of the next batch overlaps the current commit.
A decoded request may be split across two commits; the spool is marked applied only up to the last
request written whole, and a replay of the split one is harmless because writes are idempotent.

Backpressure: spans acknowledged but not yet in the store are bounded (`max_pending_spans`); past
it, `submit` raises QueueFullError at once and receivers answer 503 / UNAVAILABLE with a retry
delay. Waiting requests are kept as spool positions, not payloads (read back when decoded), so
memory is bounded by the decoded batches in the pipeline: the decode thread stays at most two
commits ahead of the store.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import pyarrow as pa

from tracehouse.receiver.decoder import BatchDecoder
from tracehouse.receiver.spool import Position, Spool
from tracehouse.store import SpanWriter

log = logging.getLogger(__name__)


class QueueFullError(Exception):
    """Too many acknowledged spans wait for the store; retry after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"the backend is busy storing earlier spans; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class IngestClosedError(Exception):
    """The backend is shutting down and accepts no more spans."""


@dataclass
class IngestStats:
    commits: int = 0          # store commits so far (tests check that requests are grouped)


@dataclass
class _Append:
    payload: bytes
    spans: int
    future: Future[None]


@dataclass
class _Record:
    end: Position
    length: int     # the payload's; it is read back from the spool when decoded
    spans: int


@dataclass
class _Batch:
    table: pa.Table | None
    end: Position | None
    spans: int
    task: Callable[[SpanWriter], object] | None = None
    done: Future[None] | None = None


# Spans decoded per call: small enough that the worker's Python lists stay small (its peak RSS under
# the ingest benchmark was 89 MB at 8k spans, 79 MB at 4k and 75 MB at 2k while it still loaded
# pyarrow; ~32 MB at 2k since ADR 8), large enough that the per-call cost (a round trip to the
# worker, table assembly) stays small (the same throughput at 2k and 8k).
DECODE_CHUNK_SPANS = 2_048
# How long the decode and commit threads wait before trying a failed chunk or batch again.
RETRY_SECONDS = 1.0
# How long the commit thread waits for more decoded spans to fill a batch before it writes a partial one.
FILL_WAIT_SECONDS = 1.0


# What the commit thread's wait yields when nothing was decoded in time.
_NOTHING_IN_TIME = _Batch(None, None, 0)


def _rows(batch: _Batch) -> int:
    return 0 if batch.table is None else int(batch.table.num_rows)


def take_rows(parts: deque[_Batch], limit: int) -> tuple[pa.Table | None, Position | None, int]:
    """Remove up to `limit` rows from the front of `parts`: (their table, the spool end of the last
    part taken whole or None, the submitted spans of the parts taken whole). A part cut in two stays
    at the front with its remaining rows."""
    tables: list[pa.Table] = []
    rows = 0
    end: Position | None = None
    spans = 0
    while parts and rows < limit:
        part = parts[0]
        n = _rows(part)
        if rows + n <= limit:
            parts.popleft()
            if part.table is not None and n:
                tables.append(part.table)
            rows += n
            end = part.end
            spans += part.spans
        else:
            assert part.table is not None
            cut = limit - rows
            tables.append(part.table.slice(0, cut))
            parts[0] = _Batch(part.table.slice(cut), part.end, part.spans)
            rows += cut
    if not tables:
        return None, end, spans
    return pa.concat_tables(tables, promote_options="permissive"), end, spans


class Ingest:
    def __init__(self, store: SpanWriter, spool: Spool, max_pending_spans: int, max_batch_spans: int,
                 decode_workers: int = 1) -> None:
        self._store = store
        self._decoder = BatchDecoder(decode_workers)
        self._spool = spool
        self._max_pending = max(1, max_pending_spans)
        # 0: the store's preferred size. Batches fill only while enough spans wait, so a queue
        # smaller than a batch would never fill one: cap the batch at the queue.
        preferred = max_batch_spans or store.preferred_batch_spans or DECODE_CHUNK_SPANS
        self._max_batch = max(1, min(preferred, self._max_pending))
        self._decode_chunk = min(self._max_batch, DECODE_CHUNK_SPANS)
        # Decoded spans are what costs memory (Arrow columns, ~400 bytes a span), not acknowledged
        # ones (spool positions). The decode thread stays at most this far ahead of the store: the
        # batch being written and the next one, filling while it is.
        self._max_decoded = 2 * self._max_batch
        self._decoded_rows = 0       # decoded and not yet written to the store
        self._lock = threading.Condition()
        self._appends: deque[_Append] = deque()
        self._records: deque[_Record] = deque()
        self._tasks: deque[tuple[Callable[[SpanWriter], object], Future[None]]] = deque()
        self._pending_spans = 0      # submitted and not yet in the store
        self._closing = False
        self._sync_finished = False
        self._decoded: queue.Queue[_Batch | None] = queue.Queue()
        self.stats = IngestStats()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle
    def recover(self) -> int:
        """Replay spooled records that are not yet in the store. Call before `start`; returns spans."""
        replayed = 0
        records: list[tuple[Position, bytes]] = []
        for end, payload in self._spool.recover():
            records.append((end, payload))
            if len(records) >= 64:
                replayed += self._replay(records)
                records = []
        replayed += self._replay(records)
        return replayed

    def _replay(self, records: list[tuple[Position, bytes]]) -> int:
        if not records:
            return 0
        table = self._decode([payload for _, payload in records])
        if table is not None:
            self._store.write_spans(table)
        self._spool.mark_applied(records[-1][0])
        return 0 if table is None else int(table.num_rows)

    def start(self) -> None:
        for name, target in (("sync", self._sync_loop), ("decode", self._decode_loop), ("commit", self._commit_loop)):
            thread = threading.Thread(target=target, name=f"tracehouse-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self, timeout: float = 60.0) -> None:
        """Stop accepting; sync, decode and commit everything already submitted; stop the threads."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._spool.close()
        self._decoder.close()

    @property
    def decoded_rows(self) -> int:
        """Spans decoded and not yet in the store: what the pipeline holds in memory as Arrow."""
        with self._lock:
            return self._decoded_rows

    def is_full(self) -> bool:
        """True while new exports would be refused: receivers check it before decoding, so an
        overloaded backend does not spend its CPU parsing requests it is about to turn away."""
        return self._pending_spans >= self._max_pending

    # ---- API for receivers
    def submit(self, payload: bytes, spans: int) -> Future[None]:
        """Queue a validated request; the future resolves once it is durably spooled (acknowledge then)."""
        future: Future[None] = Future()
        if spans == 0:
            future.set_result(None)
            return future
        with self._lock:
            if self._closing:
                raise IngestClosedError("the backend is shutting down")
            # One request larger than the cap is still let in when nothing waits, so a big (but
            # size-capped) request is not refused forever.
            if self._pending_spans and self._pending_spans + spans > self._max_pending:
                raise QueueFullError(retry_after_seconds=1)
            self._pending_spans += spans
            self._appends.append(_Append(payload, spans, future))
            self._lock.notify_all()
        return future

    def run_task(self, task: Callable[[SpanWriter], object]) -> Future[None]:
        """Run `task(store)` on the commit thread, between commits (retention uses this)."""
        future: Future[None] = Future()
        with self._lock:
            if self._closing:
                raise IngestClosedError("the backend is shutting down")
            self._tasks.append((task, future))
            self._lock.notify_all()
        return future

    def wait_stored(self, timeout: float = 30.0) -> bool:
        """Block until every acknowledged span is in the store (tests and benchmarks use this)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending_spans and time.monotonic() < deadline:
                self._lock.wait(0.05)
            return self._pending_spans == 0

    # ---- threads
    def _sync_loop(self) -> None:
        while True:
            with self._lock:
                while not self._appends and not self._closing:
                    self._lock.wait()
                if not self._appends:
                    self._sync_finished = True
                    self._lock.notify_all()
                    return
                group = list(self._appends)
                self._appends.clear()
            try:
                ends = self._spool.append([a.payload for a in group])
            except Exception as exc:
                log.exception("spool append failed; %d request(s) refused", len(group))
                with self._lock:
                    self._pending_spans -= sum(a.spans for a in group)
                for a in group:
                    a.future.set_exception(exc)
                continue
            with self._lock:
                self._records.extend(_Record(end, len(a.payload), a.spans) for end, a in zip(ends, group, strict=True))
                self._lock.notify_all()
            for a in group:
                a.future.set_result(None)

    def _decode(self, payloads: list[bytes]) -> pa.Table | None:
        table, rejected, message = self._decoder.decode(payloads)
        if rejected:
            log.error("%d acknowledged span(s) could not be converted: %s", rejected, message)
        return table

    def _decode_until_done(self, payloads: list[bytes], spans: int) -> pa.Table | None:
        # The payloads were validated when received, so a failure is a bug or a broken worker, not
        # bad input. Retry, as the commit thread does, rather than skip acknowledged spans or let
        # the thread die (the queue would fill and every request be refused); they stay in the
        # spool meanwhile and are replayed on restart.
        while True:
            try:
                return self._decode(payloads)
            except Exception:
                log.exception("decoding %d acknowledged spans failed; retrying in %g s", spans, RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)

    def _decode_may_go_on(self) -> bool:
        """Whether the decode thread has work it may do now (call with the lock held): a task, a
        record while fewer than two batches are decoded and unwritten, or the end of the input."""
        if self._tasks:
            return True
        if self._records:
            return self._decoded_rows < self._max_decoded
        return self._sync_finished

    def _decode_loop(self) -> None:
        while True:
            with self._lock:
                while not self._decode_may_go_on():
                    self._lock.wait()
                # Tasks first: they are rare (retention, once a minute) and would starve behind a
                # backlog that never empties under sustained load.
                if self._tasks:
                    task, future = self._tasks.popleft()
                    batch = _Batch(None, None, 0, task, future)
                elif self._records:
                    records: list[_Record] = []
                    spans = 0
                    while self._records and (not records or spans + self._records[0].spans <= self._decode_chunk):
                        record = self._records.popleft()
                        records.append(record)
                        spans += record.spans
                    batch = None
                else:
                    self._decoded.put(None)
                    return
            if batch is None:
                payloads = self._spool.read([(r.end, r.length) for r in records])
                batch = _Batch(self._decode_until_done(payloads, spans), records[-1].end, spans)
                with self._lock:
                    self._decoded_rows += _rows(batch)
            self._decoded.put(batch)

    def _ready(self, parts: deque[_Batch], drain: bool) -> bool:
        """Whether to write a batch from `parts` now: a full one is there, or we are told to drain,
        or too few spans are acknowledged and not yet decoded to fill one."""
        if not parts:
            return False
        if drain or sum(map(_rows, parts)) >= self._max_batch:
            return True
        buffered = sum(p.spans for p in parts)
        with self._lock:
            return self._pending_spans < self._max_batch or self._pending_spans <= buffered

    def _commit_loop(self) -> None:
        parts: deque[_Batch] = deque()   # decoded, not yet stored, in spool order
        while True:
            try:
                item = self._decoded.get(timeout=FILL_WAIT_SECONDS if parts else None)
            except queue.Empty:
                item = _NOTHING_IN_TIME
            if item is not None and item.task is not None:
                self._run_task(item)
                continue
            finished = item is None   # the decode thread has stopped: write everything, then stop
            if item is not None and item is not _NOTHING_IN_TIME:
                parts.append(item)
            # Full batches while they last; then the remainder, unless more is on the way to fill it.
            while self._ready(parts, drain=finished or item is _NOTHING_IN_TIME):
                table, end, spans = take_rows(parts, self._max_batch)
                self._commit(_Batch(table, end, spans))
            if finished:
                return

    def _run_task(self, batch: _Batch) -> None:
        assert batch.task is not None and batch.done is not None
        try:
            batch.task(self._store)
            batch.done.set_result(None)
        except Exception as exc:
            log.exception("store maintenance task failed")
            batch.done.set_exception(exc)

    def _commit(self, batch: _Batch) -> None:
        while True:
            try:
                if batch.table is not None:
                    self._store.write_spans(batch.table)
                if batch.end is not None:
                    self._spool.mark_applied(batch.end)
                break
            except Exception:
                # The spans are safe in the spool; keep retrying rather than lose or reorder them.
                log.exception("commit of %d spans failed; retrying in %g s", batch.spans, RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)
        with self._lock:
            self._pending_spans -= batch.spans
            self._decoded_rows -= _rows(batch)
            self.stats.commits += 1
            self._lock.notify_all()
