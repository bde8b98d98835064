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
commits ahead of the store. Work is sized by bytes as well as spans (ADR 12): the acknowledged
backlog is capped in spool bytes too (`max_pending_bytes`), decode chunks in payload bytes, and a
commit stops before DuckDB would hold more than COMMIT_WINDOW_BYTES of values in one vector.

Hostile conditions (ADR 12): a failed spool append (disk full) is refused, never acknowledged, and
leaves nothing behind; a commit that fails for want of disk is retried until space returns; a batch
that fails for any other reason is split until the spans that fail are alone, and those go to the
dead-letter directory with the reason instead of being retried forever. After a crash, the spool's
backlog is replayed in the background (`recover` only opens the spool), so the receivers answer at
once; and `close` gives up retrying after its deadline, leaving what is not yet stored in the spool.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracehouse.otlp.limits import SpanLimits
from tracehouse.otlp.prepare import PreparedExport
from tracehouse.receiver.deadletter import DeadLetter
from tracehouse.receiver.spool import Position, Spool

# pyarrow (~0.2-0.7 s to import) and the decoder (which imports it) are loaded when a store is
# attached, not with this module: the receivers import it and must acknowledge at once after a
# start, before the store is open (ADR 12, "acknowledge before the store").
if TYPE_CHECKING:
    import pyarrow as pa

    from tracehouse.receiver.decoder import BatchDecoder
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
    dead_lettered: int = 0    # spans (or undecodable records) set aside in the dead-letter directory
    replayed: int = 0         # spans replayed from the spool's backlog after a restart


@dataclass
class _Append:
    records: Sequence[tuple[bytes, int]]
    spans: int
    nbytes: int
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
    nbytes: int = 0                 # spool bytes of the records taken whole (for the byte cap)
    sizes: list[int] = field(default_factory=list)   # value bytes of each row of `table`
    task: Callable[[SpanWriter], object] | None = None
    done: Future[None] | None = None


# Spans decoded per call: small enough that the worker's Python lists stay small (its peak RSS under
# the ingest benchmark was 89 MB at 8k spans, 79 MB at 4k and 75 MB at 2k while it still loaded
# pyarrow; ~32 MB at 2k since ADR 8), large enough that the per-call cost (a round trip to the
# worker, table assembly) stays small (the same throughput at 2k and 8k).
DECODE_CHUNK_SPANS = 2_048
# Payload bytes decoded per call, whatever the span count: 1,000 spans of 1 MiB each would
# otherwise take the worker to GBs. 1 MiB rather than 4: under overload with spans of 2 KiB, the
# worker peaked at 77 MiB with 4 MiB chunks and 39 MiB with 1 MiB ones (bench overload); FBaaS
# spans fill a 2,048-span chunk at ~0.5 MiB, so their chunks are unchanged.
DECODE_CHUNK_BYTES = 1 * 2**20
# DuckDB converts a batch 2,048 rows (one vector) at a time; a vector holding 32 MiB of attribute
# values ran out of the store's default 128 MB (measured: 2,000 spans of 16 KiB failed, 1,000
# passed; 32 spans of 1 MiB failed, 16 passed). A commit therefore stops before any 2,048-row
# window of it would hold more than this many value bytes, and before it holds COMMIT_MAX_BYTES:
# 32 MiB, so a whole row group of FBaaS spans (61,440 x ~340 bytes, ~21 MiB) still fits one commit
# (ADR 6).
COMMIT_WINDOW_BYTES = 8 * 2**20
COMMIT_MAX_BYTES = 32 * 2**20
# Value bytes decoded and not yet stored, the batch being committed included: the decode thread
# stops past it (and past two batches of spans). One commit's worth, not two: under overload with
# 2 KiB spans the backend peaked ~30 MiB lower (370 -> 340 MiB, bench overload, same session) at the
# same acknowledged rate (4,439 and 4,330 vs 4,427 and 4,208 spans/s), the store being the
# bottleneck; decoding still overlaps a commit whenever batches are smaller than the cap, as
# FBaaS-shaped ones are (ADR 12, the memory budget).
DECODED_MAX_BYTES = COMMIT_MAX_BYTES
_VECTOR_ROWS = 2_048
# Columns whose size varies with the span; the others are a few bytes a row.
_VALUE_COLUMNS = ("attributes", "events", "links", "status_message", "span_name", "trace_state")
_FIXED_ROW_BYTES = 96
# Request bytes the receivers hold at once, from the first byte read until the answer (the body, and
# what it is parsed and split into: ~3x its size at the peak). Past it a request is refused with a
# retryable 503 / UNAVAILABLE before its body is read, unless nothing else is being received (one
# request up to --max-body is always let in). Before, every connection's body was read whole however
# many arrived at once: 8 bodies of 24 MiB grew the backend by 378 MiB.
RECEIVE_BUDGET_BYTES = 32 * 2**20
# How long the decode and commit threads wait before trying a failed chunk or batch again.
RETRY_SECONDS = 1.0
# How long the commit thread waits for more decoded spans to fill a batch before it writes a partial one.
FILL_WAIT_SECONDS = 1.0
# How long `close` keeps storing (or retrying) what was acknowledged before it leaves the rest in
# the spool for the next start (docs/receiving.md: shutdown).
CLOSE_SECONDS = 20.0


# What the commit thread's wait yields when nothing was decoded in time.
_NOTHING_IN_TIME = _Batch(None, None, 0)


def _rows(batch: _Batch) -> int:
    return 0 if batch.table is None else int(batch.table.num_rows)


def row_sizes(table: pa.Table) -> list[int]:
    """Bytes of each row's variable-size values (plus a fixed share): what a commit holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total: pa.Array | None = None
    for name in _VALUE_COLUMNS:
        if name not in table.column_names:
            continue
        lengths = pc.fill_null(pc.binary_length(table.column(name)), 0).cast(pa.int64())
        total = lengths if total is None else pc.add(total, lengths)
    if total is None:
        return [_FIXED_ROW_BYTES] * table.num_rows
    return [n + _FIXED_ROW_BYTES for n in total.to_pylist()]


def take_rows(parts: deque[_Batch], limit: int, window_bytes: int = COMMIT_WINDOW_BYTES,
              max_bytes: int = COMMIT_MAX_BYTES) -> tuple[pa.Table | None, Position | None, int, int, list[int]]:
    """Remove up to `limit` rows from the front of `parts`, fewer if a 2,048-row window of them would
    hold more than `window_bytes` or all of them more than `max_bytes` (at least one row is taken):
    (their table, the spool end of the last part taken whole or None, the submitted spans and spool
    bytes of the parts taken whole, the rows' sizes). A part cut in two stays at the front with its
    remaining rows."""
    import pyarrow as pa

    tables: list[pa.Table] = []
    sizes: list[int] = []
    rows = 0
    end: Position | None = None
    spans = 0
    nbytes = 0
    total = 0
    window = 0
    full = False
    while parts and rows < limit and not full:
        part = parts[0]
        n = _rows(part)
        take = 0
        while take < n and rows + take < limit:
            size = part.sizes[take] if part.sizes else _FIXED_ROW_BYTES
            if (rows + take) % _VECTOR_ROWS == 0:
                window = 0
            if rows + take and (window + size > window_bytes or total + size > max_bytes):
                full = True
                break
            window += size
            total += size
            take += 1
        if take == n:
            parts.popleft()
            if part.table is not None and n:
                tables.append(part.table)
                sizes += part.sizes
            rows += n
            end = part.end
            spans += part.spans
            nbytes += part.nbytes
        else:
            assert part.table is not None
            tables.append(part.table.slice(0, take))
            sizes += part.sizes[:take]
            parts[0] = _Batch(part.table.slice(take), part.end, part.spans, part.nbytes, part.sizes[take:])
            rows += take
            full = True
    if not tables:
        return None, end, spans, nbytes, []
    return pa.concat_tables(tables, promote_options="permissive"), end, spans, nbytes, sizes


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    import pyarrow as pa

    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


class Ingest:
    def __init__(self, store: SpanWriter | None, spool: Spool, max_pending_spans: int, max_batch_spans: int,
                 decode_workers: int = 1, max_pending_bytes: int = 0, limits: SpanLimits | None = None,
                 dead_letter: DeadLetter | None = None) -> None:
        """`store` None: attach one later (`attach`); until then `start_receiving` acknowledges
        requests into the spool, and they are stored once a store is attached and `start` runs."""
        self._store: SpanWriter | None = None
        self._decoder: BatchDecoder | None = None
        self._decode_workers = decode_workers
        self._max_batch_spans = max_batch_spans
        self._spool = spool
        #: The byte caps receivers apply to each span before acknowledging it (otlp/limits.py).
        self.limits = limits or SpanLimits()
        self.dead_letter = dead_letter or DeadLetter(spool.directory.parent / "deadletter")
        self._max_pending = max(1, max_pending_spans)
        self._max_pending_bytes = max_pending_bytes   # 0: no byte cap
        self._max_batch = self._decode_chunk = self._max_decoded = 1   # sized by `attach`
        self._max_decoded_bytes = DECODED_MAX_BYTES
        self._decoded_rows = 0       # decoded and not yet written to the store
        self._decoded_bytes = 0
        self._lock = threading.Condition()
        self._appends: deque[_Append] = deque()
        self._records: deque[_Record] = deque()
        self._tasks: deque[tuple[Callable[[SpanWriter], object], Future[None]]] = deque()
        self._pending_spans = 0      # submitted and not yet in the store
        self._pending_bytes = 0      # their spool bytes (and the backlog's)
        self._receiving_bytes = 0    # request bytes held by the receivers (RECEIVE_BUDGET_BYTES)
        self.receive_budget_bytes = RECEIVE_BUDGET_BYTES
        self._backlog: Iterator[tuple[Position, bytes]] | None = None
        self._backlog_unclaimed = 0  # backlog bytes counted as pending and not yet read
        # Shutting down before the backlog was replayed: records spooled since must not be marked
        # applied (that would drop the backlog's segments); they stay in the spool, like it.
        self._backlog_abandoned = False
        self._closing = False
        self._give_up_at = float("inf")
        self._sync_finished = False
        self._decoded: queue.Queue[_Batch | None] = queue.Queue()
        self.stats = IngestStats()
        self._threads: list[threading.Thread] = []
        self._receiving = False
        if store is not None:
            self.attach(store)

    # ---- lifecycle
    def attach(self, store: SpanWriter) -> None:
        """The store to write to, and the decode worker; call once, before `start`."""
        from tracehouse.receiver.decoder import BatchDecoder

        # 0: the store's preferred size. Batches fill only while enough spans wait, so a queue
        # smaller than a batch would never fill one: cap the batch at the queue.
        preferred = self._max_batch_spans or store.preferred_batch_spans or DECODE_CHUNK_SPANS
        self._max_batch = max(1, min(preferred, self._max_pending))
        self._decode_chunk = min(self._max_batch, DECODE_CHUNK_SPANS)
        # Decoded spans are what costs memory (Arrow columns, ~400 bytes a span), not acknowledged
        # ones (spool positions). The decode thread stays at most this far ahead of the store: the
        # batch being written and the next one, filling while it is.
        self._max_decoded = 2 * self._max_batch
        self._decoder = BatchDecoder(self._decode_workers)
        self._store = store

    def recover(self) -> int:
        """Open the spool for appending, and queue what it holds that may not be in the store yet
        (acknowledged before a crash) for replay. Call before `start`; the replay runs in the
        background once started, ahead of anything submitted later. Returns the backlog's bytes."""
        self._spool.start()
        backlog = self._spool.backlog_bytes()
        with self._lock:
            self._backlog = self._spool.backlog()
            self._backlog_unclaimed = backlog
            self._pending_bytes += backlog
        return backlog

    @property
    def replaying(self) -> bool:
        """True until the backlog found by `recover` has been read and decoded."""
        with self._lock:
            return self._backlog is not None

    def start_receiving(self) -> None:
        """Start the spool's sync thread: `submit` acknowledges once a request is durable in the
        spool, whether or not a store is attached yet."""
        if not self._receiving:
            self._receiving = True
            self._start_thread("sync", self._sync_loop)

    def start(self) -> None:
        """Receive (if not yet), and decode and commit into the attached store."""
        if self._store is None:
            raise RuntimeError("Ingest.start needs a store: call attach(store) first")
        self.start_receiving()
        self._start_thread("decode", self._decode_loop)
        self._start_thread("commit", self._commit_loop)

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"tracehouse-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Stop accepting; sync, decode and commit everything already submitted, for up to `timeout`
        seconds; stop the threads. What is not stored by then stays in the spool, acknowledged and
        safe, and is replayed by the next start (so is a backlog not yet replayed)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            self._give_up_at = deadline
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 5.0)
        if any(thread.is_alive() for thread in self._threads):
            log.error("shutdown: acknowledged spans not yet stored stay in the spool; the next start stores them")
        self._spool.close()
        if self._decoder is not None:
            self._decoder.close()

    @property
    def _writer(self) -> SpanWriter:
        assert self._store is not None  # attached before the commit thread starts
        return self._store

    def _giving_up(self) -> bool:
        return time.monotonic() >= self._give_up_at

    @property
    def decoded_rows(self) -> int:
        """Spans decoded and not yet in the store: what the pipeline holds in memory as Arrow."""
        with self._lock:
            return self._decoded_rows

    @property
    def decoded_bytes(self) -> int:
        """Their value bytes (row_sizes): what DECODED_MAX_BYTES caps."""
        with self._lock:
            return self._decoded_bytes

    def is_full(self) -> bool:
        """True while new exports would be refused: receivers check it before decoding, so an
        overloaded backend does not spend its CPU parsing requests it is about to turn away."""
        return self._pending_spans >= self._max_pending or (
            bool(self._max_pending_bytes) and self._pending_bytes >= self._max_pending_bytes)

    # ---- API for receivers
    def reserve_receive(self, nbytes: int) -> bool:
        """Count `nbytes` of a request being received against the receive budget; False (nothing
        counted) if that would pass it while other requests are being received: refuse it, retryable."""
        with self._lock:
            if self._receiving_bytes and self._receiving_bytes + nbytes > self.receive_budget_bytes:
                return False
            self._receiving_bytes += nbytes
            return True

    def release_receive(self, nbytes: int) -> None:
        with self._lock:
            self._receiving_bytes -= nbytes

    def submit(self, payload: bytes, spans: int) -> Future[None]:
        """Queue a validated request; the future resolves once it is durably spooled (acknowledge then)."""
        return self.submit_records([(payload, spans)] if spans else [])

    def submit_prepared(self, prepared: PreparedExport) -> Future[None]:
        return self.submit_records(prepared.records)

    def submit_records(self, records: Sequence[tuple[bytes, int]]) -> Future[None]:
        """Queue the records of one validated request, (payload, spans) each; the future resolves once
        all of them are durably spooled, in one append (acknowledge then)."""
        future: Future[None] = Future()
        spans = sum(n for _, n in records)
        if spans == 0:
            future.set_result(None)
            return future
        nbytes = sum(len(p) + 8 for p, _ in records)
        with self._lock:
            if self._closing:
                raise IngestClosedError("the backend is shutting down")
            # One request larger than the cap is still let in when nothing waits, so a big (but
            # size-capped) request is not refused forever.
            if self._pending_spans and self._pending_spans + spans > self._max_pending:
                raise QueueFullError(retry_after_seconds=1)
            if (self._max_pending_bytes and self._pending_bytes
                    and self._pending_bytes + nbytes > self._max_pending_bytes):
                raise QueueFullError(retry_after_seconds=1)
            self._pending_spans += spans
            self._pending_bytes += nbytes
            self._appends.append(_Append(records, spans, nbytes, future))
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
        """Block until every acknowledged span is in the store, the backlog included (tests and
        benchmarks use this)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._pending_spans or self._pending_bytes) and time.monotonic() < deadline:
                self._lock.wait(0.05)
            return self._pending_spans == 0 and self._pending_bytes == 0

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
            self._spool_group(group)
            # Its payloads are in the spool now. Dropped here, not when the next group comes: this
            # thread would otherwise hold the last group's bytes while it waits, a whole request of
            # up to --max-body (49 MiB after the 1M-span request, for the rest of the run; ADR 12).
            del group

    def _spool_group(self, group: list[_Append]) -> None:
        """Append a group of requests to the spool, then acknowledge them (or refuse them all)."""
        try:
            ends = self._spool.append([payload for a in group for payload, _ in a.records])
        except Exception as exc:
            log.error("spool append failed; %d request(s) refused (not acknowledged): %s", len(group), exc)
            with self._lock:
                self._pending_spans -= sum(a.spans for a in group)
                self._pending_bytes -= sum(a.nbytes for a in group)
                self._lock.notify_all()
            for a in group:
                a.future.set_exception(exc)
            return
        records = [_Record(end, len(payload), spans)
                   for end, (payload, spans) in zip(ends, (r for a in group for r in a.records), strict=True)]
        with self._lock:
            self._records.extend(records)
            self._lock.notify_all()
        for a in group:
            a.future.set_result(None)

    def _decode(self, payloads: list[bytes]) -> pa.Table | None:
        assert self._decoder is not None  # attached before the decode thread starts
        table, rejected, message = self._decoder.decode(payloads)
        if rejected:
            log.error("%d acknowledged span(s) could not be converted: %s", rejected, message)
        return table

    def _decode_or_set_aside(self, payloads: list[bytes]) -> pa.Table | None:
        """Decode the payloads. The payloads were validated when received, so a failure is a bug or a
        broken worker (replaced by the decoder), not bad input: try again, then each payload alone;
        one that still fails goes to the dead-letter directory, so it never blocks the others. A
        failure to write the dead letter (a full disk) is retried, as is everything while the
        spans wait safely in the spool."""
        for attempt in range(2):
            try:
                return self._decode(payloads)
            except Exception:
                log.exception("decoding %d acknowledged record(s) failed (attempt %d)", len(payloads), attempt + 1)
                time.sleep(RETRY_SECONDS)
        tables: list[pa.Table] = []
        for payload in payloads:
            try:
                table = self._decode([payload])
            except Exception as exc:
                while True:
                    try:
                        path = self.dead_letter.put_record(payload, f"the record could not be decoded: {exc}")
                        break
                    except OSError:
                        if self._giving_up():
                            raise
                        log.exception("cannot write the dead-letter file; retrying in %g s", RETRY_SECONDS)
                        time.sleep(RETRY_SECONDS)
                self.stats.dead_lettered += 1
                log.error("a spooled record that cannot be decoded was set aside in %s: %s", path, exc)
                continue
            if table is not None:
                tables.append(table)
        return _concat(tables)

    def _decode_may_go_on(self) -> bool:
        """Whether the decode thread has work it may do now (call with the lock held): a task, a
        record while fewer than two batches are decoded and unwritten, or the end of the input."""
        if self._tasks:
            return True
        room = self._decoded_rows < self._max_decoded and self._decoded_bytes < self._max_decoded_bytes
        if self._backlog is not None:
            return room or self._closing
        if self._records:
            return room
        return self._sync_finished

    def _take_backlog(self) -> tuple[list[bytes], Position | None, int]:
        """The next chunk of the backlog: (payloads, end of the last, spool bytes)."""
        assert self._backlog is not None
        payloads: list[bytes] = []
        end: Position | None = None
        size = 0
        while size < DECODE_CHUNK_BYTES and len(payloads) < 64:
            item = next(self._backlog, None)
            if item is None:
                break
            end, payload = item
            payloads.append(payload)
            size += len(payload) + 8
        with self._lock:
            self._backlog_unclaimed -= size
            if not payloads or self._closing:
                # Read to its end (or shutting down: the rest stays in the spool for the next start).
                self._backlog_abandoned = bool(payloads)
                self._backlog = None
                self._pending_bytes -= self._backlog_unclaimed
                self._backlog_unclaimed = 0
                self._lock.notify_all()
        return payloads, end, size

    def _decode_loop(self) -> None:
        while True:
            from_backlog = False
            records: list[_Record] = []
            spans = 0
            with self._lock:
                while not self._decode_may_go_on():
                    self._lock.wait()
                # Tasks first: they are rare (retention, once a minute) and would starve behind a
                # backlog that never empties under sustained load.
                if self._tasks:
                    task, future = self._tasks.popleft()
                    batch: _Batch | None = _Batch(None, None, 0, task=task, done=future)
                elif self._backlog is not None:
                    from_backlog = True
                    batch = None
                elif self._records and not self._backlog_abandoned and not (self._closing and self._giving_up()):
                    size = 0
                    while self._records and (not records or (
                            spans + self._records[0].spans <= self._decode_chunk
                            and size + self._records[0].length <= DECODE_CHUNK_BYTES)):
                        record = self._records.popleft()
                        records.append(record)
                        spans += record.spans
                        size += record.length
                    batch = None
                else:
                    self._decoded.put(None)
                    return
            if from_backlog:
                payloads, end, size = self._take_backlog()
                if not payloads:
                    continue
                table = self._decode_or_set_aside(payloads)
                batch = _Batch(table, end, 0, size)
            elif batch is None:
                payloads = self._spool.read([(r.end, r.length) for r in records])
                batch = _Batch(self._decode_or_set_aside(payloads), records[-1].end, spans,
                               sum(r.length + 8 for r in records))
            if batch.table is not None:
                batch.sizes = row_sizes(batch.table)
            with self._lock:
                self._decoded_rows += _rows(batch)
                self._decoded_bytes += sum(batch.sizes)
            self._decoded.put(batch)

    def _ready(self, parts: deque[_Batch], drain: bool) -> bool:
        """Whether to write a batch from `parts` now: a full one is there, or we are told to drain,
        or too few spans are acknowledged and not yet decoded to fill one."""
        if not parts:
            return False
        if drain or sum(map(_rows, parts)) >= self._max_batch:
            return True
        if sum(sum(p.sizes) for p in parts) >= COMMIT_MAX_BYTES:
            return True   # heavy spans: a batch is full by bytes before it is by rows
        buffered = sum(p.spans for p in parts)
        with self._lock:
            if self._backlog is not None:
                return False   # more of the backlog is on its way
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
            drain = finished or item is _NOTHING_IN_TIME
            if item is not None and item is not _NOTHING_IN_TIME:
                parts.append(item)
            # No name here outlives its batch: a committed table still referenced while this thread
            # waits for the next would be a batch beyond the decoded cap (ADR 12, decision 9).
            item = None
            # Full batches while they last; then the remainder, unless more is on the way to fill it.
            while self._ready(parts, drain=drain):
                if not self._commit(_Batch(*take_rows(parts, self._max_batch))):
                    return   # shutting down past the deadline: the rest stays in the spool
            if finished:
                return

    def _run_task(self, batch: _Batch) -> None:
        assert batch.task is not None and batch.done is not None
        try:
            batch.task(self._writer)
            batch.done.set_result(None)
        except Exception as exc:
            log.exception("store maintenance task failed")
            batch.done.set_exception(exc)

    def _run_waiting_tasks(self) -> None:
        while True:
            with self._lock:
                if not self._tasks:
                    return
                task, future = self._tasks.popleft()
            self._run_task(_Batch(None, None, 0, task=task, done=future))

    def _write_or_set_aside(self, table: pa.Table) -> None:
        """Write `table`; if the store refuses it for a reason other than a lack of disk, write its
        halves, down to single spans, and set aside (dead-letter) each span that still fails."""
        from tracehouse.store import StoreUnavailableError  # the store contract imports pyarrow

        try:
            self._writer.write_spans(table)
            return
        except StoreUnavailableError:
            raise
        except Exception as exc:
            if table.num_rows > 1:
                log.warning("commit of %d spans failed (%s); committing it in halves", table.num_rows, exc)
                half = table.num_rows // 2
                self._write_or_set_aside(table.slice(0, half))
                self._write_or_set_aside(table.slice(half))
                return
            error = exc
        # One span, refused: once more after a pause (memory may have been short for a moment).
        time.sleep(RETRY_SECONDS)
        try:
            self._writer.write_spans(table)
            return
        except StoreUnavailableError:
            raise
        except Exception as exc:
            error = exc
        path = self.dead_letter.put_spans(table, f"the store refused the span: {error}")
        self.stats.dead_lettered += 1
        log.error("an acknowledged span the store refuses was set aside in %s: %s", path, error)

    def _commit(self, batch: _Batch) -> bool:
        """Store the batch and mark its records applied; False if shutting down gave up on it."""
        while True:
            try:
                if batch.table is not None:
                    self._write_or_set_aside(batch.table)
                if batch.end is not None:
                    self._spool.mark_applied(batch.end)
                break
            except Exception as exc:
                # The spans are safe in the spool; retry (a full disk may be freed) rather than lose
                # or reorder them, unless shutting down past the deadline.
                if self._closing and self._giving_up():
                    log.error("shutdown: %d acknowledged span(s) not stored stay in the spool (%s)",
                              _rows(batch), exc)
                    return False
                log.error("commit of %d spans failed; retrying in %g s: %s", _rows(batch), RETRY_SECONDS, exc)
                # Maintenance (retention) still runs meanwhile: deleting may be what frees the disk.
                self._run_waiting_tasks()
                time.sleep(RETRY_SECONDS)
        with self._lock:
            self._pending_spans -= batch.spans
            self._pending_bytes -= batch.nbytes
            self._decoded_rows -= _rows(batch)
            self._decoded_bytes -= sum(batch.sizes)
            self.stats.commits += 1
            if batch.spans == 0 and batch.table is not None:
                self.stats.replayed += _rows(batch)
            self._lock.notify_all()
        return True
