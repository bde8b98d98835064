"""DuckDBStore: the store contract on an embedded DuckDB file. The only module set that knows DuckDB."""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.model import (
    DependencyLink,
    Operation,
    SpanMetricsPoint,
    SpanMetricsQuery,
    SqlResult,
    TraceBreakdown,
    TraceQuery,
    TraceSummary,
)
from tracehouse.store import (
    AnalysisFilter,
    CatalogTable,
    ExampleQuery,
    Selection,
    StoreError,
    StoreUnavailableError,
    WriteResult,
    trace_id_bytes,
)
from tracehouse.store.sampling_contract import DecidedTrace, PolicyMinute, PriorDecision
from tracehouse.stores.duckdb import links as inferred
from tracehouse.stores.duckdb import sampling
from tracehouse.stores.duckdb.analytics import DuckDBAnalytics
from tracehouse.stores.duckdb.connection import open_database, use_store
from tracehouse.stores.duckdb.reader import DuckDBReader
from tracehouse.stores.duckdb.resources import split_resources
from tracehouse.stores.duckdb.sandbox import check_statement
from tracehouse.stores.duckdb.sql_files import sql
from tracehouse.stores.duckdb.sql_workers import SqlSnapshots, SqlWorkers

_SPAN_KEY = ["trace_id", "span_id", "start_time_unix_nano"]


def _without_repeats(cur: duckdb.DuckDBPyConnection, batch: pa.Table) -> pa.Table:
    """The registered `batch` with each (trace_id, span_id, start time) once, the first occurrence
    kept; the batch itself when nothing repeats (the usual case). DuckDB groups the keys: pyarrow's
    group_by would do it as fast, but its engine adds ~40 MB to the backend's memory on first use."""
    rows = cur.execute(sql("write/distinct_spans")).fetchall()
    if not rows or int(rows[0][0]) == batch.num_rows:
        return batch
    numbered = batch.select(_SPAN_KEY).append_column("row", pa.array(range(batch.num_rows), pa.int64()))
    cur.register("numbered", numbered)
    try:
        keep = cur.sql(sql("write/first_of_each_span")).to_arrow_table().column("row")
    finally:
        cur.unregister("numbered")
    return batch.take(keep)


def _roll_back(cur: duckdb.DuckDBPyConnection) -> None:
    # A COMMIT that failed (a full disk) has already rolled back; ROLLBACK would then raise "no
    # transaction is active" and hide the real error.
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def _unavailable(exc: BaseException, doing: str = "write") -> BaseException:
    """A write's (or a read's: _reads) error as the contract states it: disk or I/O trouble (a full
    disk, a failed write) becomes StoreUnavailableError, which writers retry; anything else is left
    as it is."""
    if isinstance(exc, duckdb.IOException) or (
            isinstance(exc, duckdb.Error) and _DISK_TROUBLE.search(str(exc))):
        return StoreUnavailableError(f"the store cannot {doing} for now: {str(exc).strip().splitlines()[0]}")
    return exc


_DISK_TROUBLE = re.compile(r"no space left|disk is full|could not write|could not truncate|i/o error|"
                           r"input/output error|could not fsync|could not extend", re.I)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _writes(method: _Method) -> _Method:
    """A method that may change the store file: it runs under the write lock, so a SQL snapshot is
    never copied half-way through it, and counts as a change, so the next query gets a new one."""
    @functools.wraps(method)
    def locked(self: DuckDBStore, *args: Any, **kwargs: Any) -> Any:
        with self._write_lock:
            self._changes += 1
            return method(self, *args, **kwargs)
    return locked  # type: ignore[return-value]


def _on_writer(method: _Method) -> _Method:
    """A read on the write cursor (tail sampling's, in the writer's transaction view): it runs under
    the write lock, as a SQL snapshot's CHECKPOINT on that cursor does from an HTTP thread, because
    DuckDB refuses a second call on a busy connection ("connection is busy") instead of waiting. Not
    a change: the snapshot stays."""
    @functools.wraps(method)
    def locked(self: DuckDBStore, *args: Any, **kwargs: Any) -> Any:
        with self._write_lock:
            return method(self, *args, **kwargs)
    return locked  # type: ignore[return-value]


def _reads(method: _Method) -> _Method:
    """An analytics read: disk or I/O trouble becomes StoreUnavailableError, as on writes. A read
    writes too: a sort or join past the memory limit spills to the temp directory beside the store,
    and on a full disk DuckDB raised its own IOException, which the API and the CLI, expecting the
    contract's StoreError, answered as an internal error. Anything else is left as it is."""
    @functools.wraps(method)
    def translated(self: DuckDBStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except duckdb.Error as exc:
            error = _unavailable(exc, "read")
            if error is exc:
                raise
            raise error from exc
    return translated  # type: ignore[return-value]


class DuckDBStore:
    """A tracehouse store in one DuckDB file. See tracehouse.store.contract for the guarantees.

    One process may open the file for writing; other processes can open it read-only only while
    no writer holds it (DuckDB's file lock), which is why `tracehouse sql` talks to a running
    backend over HTTP instead.
    """

    # Rows per DuckDB row group in this store (DuckDB's default is 122,880). A transaction that
    # appends whole row groups has them compressed and written straight to the file ("optimistic
    # writes") instead of logging every value to the WAL and compressing it again at the next
    # checkpoint, so the writer commits exactly one row group at a time (preferred_batch_spans).
    # Half the default halves that batch and the decoded one queued behind it. Measured (ADR 7):
    # under the ingest benchmark's load, peak RSS ~495 MiB against ~538 at 122,880 and ~470 at
    # 30,720, at the same throughput within the runs' noise; stored in 2,000-span commits, as at
    # low load, 70 bytes per span against 68.5 at 122,880 and 96 at 30,720.
    ROW_GROUP_SIZE = 61_440
    preferred_batch_spans = ROW_GROUP_SIZE

    def __init__(self, path: Path, memory_limit: str = "256MB", read_only: bool = False,
                 sql_memory_bytes: int = 512 * 2**20, disk_reserve_bytes: int = 0) -> None:
        self.path = path
        self.read_only = read_only
        self._memory_limit = memory_limit
        self._write_lock = threading.RLock()
        self._changes = 0
        self._con = open_database(path, memory_limit, read_only, self.ROW_GROUP_SIZE)
        self._generation = 0     # bumped when the database is reopened; older cursors are dropped
        self._needs_reopen = False
        self._write_cursor = self._new_cursor()
        self._local = threading.local()
        self._closed = False
        self._close_lock = threading.Lock()
        # Users' SQL: worker processes (sql_workers.py), on snapshots when this process writes.
        self._sql_workers = SqlWorkers(sql_memory_bytes, self.ROW_GROUP_SIZE)
        self._snapshots = None if read_only else SqlSnapshots(
            path, self._write_lock, lambda: self._changes, self._checkpoint_for_snapshot, disk_reserve_bytes)

    # ---- cursors: DuckDB connections are not shared across threads; each thread gets its own cursor.
    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        return use_store(self._con.cursor())

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if getattr(self._local, "generation", 0) != self._generation:
            cursor = None
        if cursor is None:
            if self._closed:
                raise StoreError("the store is closed")
            cursor = self._new_cursor()
            self._local.cursor = cursor
            self._local.generation = self._generation
        return cursor

    def _reopen_if_invalidated(self, exc: BaseException) -> None:
        """After a fatal error (a write that failed half-way, on a full disk) DuckDB refuses every
        later statement until the database is opened again; reopen it, replaying its WAL."""
        if "invalidated" in str(exc).lower() and not self._closed:
            self._needs_reopen = True
            self._reopen()

    @_writes
    def _reopen(self) -> None:
        with self._close_lock:
            if not self._needs_reopen:
                return
            with contextlib.suppress(duckdb.Error):
                self._con.close()
            try:
                self._con = open_database(self.path, self._memory_limit, self.read_only, self.ROW_GROUP_SIZE)
            except StoreError as exc:
                raise StoreUnavailableError(f"the store cannot be reopened for now: {exc}") from exc
            self._generation += 1
            self._write_cursor = self._new_cursor()
            self._needs_reopen = False

    def _reader(self) -> DuckDBReader:
        return DuckDBReader(self._cursor())

    # ---- SpanWriter
    @_writes
    def write_spans(self, batch: pa.Table) -> WriteResult:
        if batch.num_rows == 0:
            return WriteResult(received=0, stored=0)
        if self.read_only:
            raise StoreError("the store was opened read-only")
        if self._needs_reopen:
            self._reopen()
        received = batch.num_rows
        starts = batch.column("start_time_unix_nano")
        bounds = pc.min_max(starts)
        params = {"min_start": bounds["min"].as_py(), "max_start": bounds["max"].as_py()}
        batch, resources = split_resources(batch)
        cur = self._write_cursor
        cur.register("batch", batch)
        cur.register("batch_resources", resources)
        try:
            unique = _without_repeats(cur, batch)
            if unique is not batch:
                cur.unregister("batch")
                cur.register("batch", unique)
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute(sql("write/insert_resources"))
                # The summary before the spans: it selects the batch's new spans with the same
                # duplicate check as the insert, so a resent batch changes no count.
                cur.execute(sql("write/before_insert_trace_summary"), params).fetchall()
                cur.execute(sql("write/insert_spans"), params)
                row = cur.fetchone()
                cur.execute("COMMIT")  # DuckDB syncs its write-ahead log here: durable on return.
            except BaseException as exc:
                _roll_back(cur)
                raise _unavailable(exc) from exc
        except duckdb.Error as exc:
            self._reopen_if_invalidated(exc)
            raise
        except StoreUnavailableError as exc:
            self._reopen_if_invalidated(exc)
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                cur.unregister("batch")
                cur.unregister("batch_resources")
        stored = int(row[0]) if row else 0
        return WriteResult(received=received, stored=stored)

    def delete_before(self, cutoff_unix_nano: int) -> int:
        return self._delete_before(cutoff_unix_nano, honour_pins=True)

    @_writes
    def pin_traces(self, trace_ids: Sequence[str], keep_until_unix_nano: int | None) -> None:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None))
        if not ids:
            return
        cur = self._write_cursor
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(sql("write/unpin_traces"), {"trace_ids": ids})
            cur.execute(sql("write/pin_traces"), {"trace_ids": ids, "keep_until": keep_until_unix_nano})
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    @_writes
    def _delete_before(self, cutoff_unix_nano: int, honour_pins: bool) -> int:
        cur = self._write_cursor
        params = {"cutoff": cutoff_unix_nano, "now": time.time_ns(), "honour_pins": honour_pins}
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(sql("write/drop_expired_pins"), {"now": params["now"]})
            cur.execute(sql("admin/delete_before"), params)
            row = cur.fetchone()
            if row and row[0]:
                cur.execute(sql("write/after_delete_trace_summary"), params).fetchall()
                cur.execute(sql("write/delete_orphan_resources"))
                cur.execute(sql("links/delete_before"), {"cutoff": cutoff_unix_nano})
            cur.execute("COMMIT")
        except BaseException as exc:
            _roll_back(cur)
            raise _unavailable(exc) from exc
        return int(row[0]) if row else 0

    def size_bytes(self) -> int:
        """Bytes the live spans occupy: the used size scaled by live rows over stored rows. Deleted
        rows keep their space until a checkpoint vacuums whole row groups, so the plain size would
        not drop after a delete and a size cap would keep deleting."""
        used = self._used_bytes()
        row = self._cursor().execute(sql("admin/stored_rows")).fetchone()
        stored = int(row[0]) if row else 0
        live = self.span_count()
        return used if stored <= live or stored == 0 else used * live // stored

    @_writes
    def enforce_max_size(self, max_bytes: int) -> int:
        """Delete the oldest spans so the live data fits in 90% of the cap (the headroom keeps a
        store at the cap from being trimmed on every pass). One delete per call."""
        if max_bytes <= 0:
            return 0
        live = self.size_bytes()
        if live <= max_bytes:
            return 0
        fraction = min(1.0, 1 - (max_bytes * 0.9) / live)
        row = self._write_cursor.execute(sql("admin/start_time_quantile"), {"fraction": fraction}).fetchone()
        if not row or row[0] is None:
            return 0
        # Pinned (imported) traces are not spared here: the cap protects the disk.
        deleted = self._delete_before(int(row[0]) + 1, honour_pins=False)
        self._write_cursor.execute("CHECKPOINT")
        return deleted

    def _used_bytes(self) -> int:
        # Used blocks, not the file size: deleted blocks are reused, and the file never shrinks.
        row = self._cursor().execute(sql("admin/used_bytes")).fetchone()
        used = int(row[0]) if row and row[0] is not None else 0
        wal = self.path.with_name(self.path.name + ".wal")
        return used + (wal.stat().st_size if wal.exists() else 0)

    # ---- SpanReader
    def services(self) -> list[str]:
        return self._reader().services()

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        return self._reader().operations(service, span_kind)

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        return self._reader().find_traces(query)

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        return self._reader().get_spans(trace_ids)

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        return self._reader().dependencies(start_unix_nano, end_unix_nano)

    def span_count(self) -> int:
        return self._reader().span_count()

    def trace_breakdowns(self, summaries: Sequence[TraceSummary]) -> list[TraceBreakdown]:
        return self._reader().trace_breakdowns(summaries)

    def span_metrics(self, query: SpanMetricsQuery) -> list[SpanMetricsPoint]:
        return self._reader().span_metrics(query)

    # ---- SqlRunner
    def run_sql(self, sql_text: str, max_rows: int, timeout_seconds: float,
                params: Sequence[object] = ()) -> SqlResult:
        # Refusals are answered here, at once; the query itself runs in a worker process (ADR 19),
        # which checks it again before running it.
        cursor = self._new_cursor()
        try:
            check_statement(cursor, sql_text)
        finally:
            cursor.close()
        if self._snapshots is None:
            return self._sql_workers.run(self.path, sql_text, max_rows, timeout_seconds, params)
        with self._snapshots.use() as snapshot:
            return self._sql_workers.run(snapshot, sql_text, max_rows, timeout_seconds, params)

    def _checkpoint_for_snapshot(self) -> None:
        self._write_cursor.execute("CHECKPOINT")

    def sql_dialect(self) -> str:
        return "duckdb"

    # ---- AnalyticsReader and SqlCatalog (tracehouse.store.analytics_contract)
    def _analytics(self) -> DuckDBAnalytics:
        return DuckDBAnalytics(self._cursor())

    @_reads
    def route_stats(self, flt: AnalysisFilter, slowest_fraction: float | None = None,
                    max_traces: int | None = None) -> pa.Table:
        return self._analytics().route_stats(flt, slowest_fraction, max_traces)

    @_reads
    def origin_stats(self, flt: AnalysisFilter, service: str, operation: str | None = None,
                     max_traces: int | None = None) -> pa.Table:
        return self._analytics().origin_stats(flt, service, operation, max_traces)

    @_reads
    def attribute_contrast(self, flt: AnalysisFilter, selection: Selection, max_traces: int) -> pa.Table:
        return self._analytics().attribute_contrast(flt, selection, max_traces)

    @_reads
    def error_hotspots(self, flt: AnalysisFilter) -> pa.Table:
        return self._analytics().error_hotspots(flt)

    @_reads
    def trace_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._analytics().trace_sample(flt, max_traces)

    @_reads
    def export_spans(self, flt: AnalysisFilter) -> pa.Table:
        return self._analytics().export_spans(flt)

    def export_span_batches(self, flt: AnalysisFilter) -> Iterator[pa.RecordBatch]:
        # Its own cursor: the batches may be pulled from other threads (a streamed HTTP response)
        # while this thread's cursor serves other requests.
        cursor = self._new_cursor()
        try:
            yield from DuckDBAnalytics(cursor).export_span_batches(flt)
        except duckdb.Error as exc:   # as _reads does: a generator's errors come at each batch
            error = _unavailable(exc, "read")
            if error is exc:
                raise
            raise error from exc
        finally:
            cursor.close()

    @_reads
    def count_traces(self, flt: AnalysisFilter) -> int:
        return self._analytics().count_traces(flt)

    @_reads
    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        return self._analytics().cause_sample(flt, max_traces)

    @_reads
    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        return self._analytics().trace_times(flt)

    @_reads
    def sql_catalog(self) -> list[CatalogTable]:
        return self._analytics().sql_catalog()

    @_reads
    def sql_examples(self) -> list[ExampleQuery]:
        return self._analytics().sql_examples()

    # ---- SamplingStore (tracehouse.store.sampling_contract; tables created on first use)
    def _sampling_writer(self) -> duckdb.DuckDBPyConnection:
        if self.read_only:
            raise StoreError("the store was opened read-only")
        if not getattr(self, "_sampling_tables", False):
            with self._write_lock:
                self._changes += 1
                sampling.create_tables(self._write_cursor)
            self._sampling_tables = True
        return self._write_cursor

    @_writes
    def hold_spans(self, batch: pa.Table, received_unix_nano: int) -> None:
        if batch.num_rows:
            sampling.hold_spans(self._sampling_writer(), batch, received_unix_nano)

    @_on_writer
    def ready_to_decide(self, now_unix_nano: int, wait_after_root_ns: int, max_wait_ns: int,
                        max_trace_spans: int, cache_since_unix_nano: int, limit: int) -> list[tuple[bytes, int]]:
        return sampling.ready_to_decide(self._sampling_writer(), now_unix_nano, wait_after_root_ns, max_wait_ns,
                                        max_trace_spans, cache_since_unix_nano, limit)

    @_on_writer
    def held_facts(self, trace_ids: Sequence[bytes], with_attributes: bool = False) -> pa.Table:
        return sampling.held_facts(self._sampling_writer(), trace_ids, with_attributes)

    @_on_writer
    def held_spans(self, trace_ids: Sequence[bytes]) -> pa.Table:
        return sampling.held_spans(self._sampling_writer(), trace_ids)

    @_on_writer
    def prior_decisions(self, trace_ids: Sequence[bytes], cache_since_unix_nano: int) -> dict[bytes, PriorDecision]:
        return sampling.prior_decisions(self._sampling_writer(), trace_ids, cache_since_unix_nano)

    @_writes
    def record_decisions(self, decided: Sequence[DecidedTrace], now_unix_nano: int) -> None:
        sampling.record_decisions(self._sampling_writer(), decided, now_unix_nano)

    @_writes
    def release_held(self, trace_ids: Sequence[bytes]) -> None:
        sampling.release_held(self._sampling_writer(), trace_ids)

    def held_count(self) -> tuple[int, int]:
        return sampling.held_count(self._cursor())

    @_writes
    def forget_decisions(self, before_unix_nano: int, minutes_before_unix_nano: int) -> None:
        sampling.forget_decisions(self._sampling_writer(), before_unix_nano, minutes_before_unix_nano)

    def sampling_minutes(self, since_unix_nano: int) -> list[PolicyMinute]:
        return sampling.sampling_minutes(self._cursor(), since_unix_nano)

    def stored_facts(self, start_unix_nano: int, end_unix_nano: int, traces_per_chunk: int,
                     with_attributes: bool = False) -> Iterator[pa.Table]:
        return sampling.stored_facts(self._cursor(), start_unix_nano, end_unix_nano, traces_per_chunk,
                                     with_attributes)

    def trace_weights(self, trace_ids: Sequence[str]) -> dict[str, float]:
        return sampling.trace_weights(self._cursor(), trace_ids)

    def ever_sampled(self) -> bool:
        return sampling.ever_sampled(self._cursor())

    def weighted_span_counts(self, start_unix_nano: int, end_unix_nano: int,
                             ever_sampled: bool | None = None) -> pa.Table:
        return sampling.weighted_span_counts(self._cursor(), start_unix_nano, end_unix_nano, ever_sampled)

    # ---- InferredLinkStore (tracehouse.store.links_contract)
    def call_spans(self, start_unix_nano: int, end_unix_nano: int) -> pa.Table:
        return inferred.call_spans(self._cursor(), start_unix_nano, end_unix_nano)

    @_writes
    def replace_inferred_links(self, start_unix_nano: int, end_unix_nano: int, links: pa.Table) -> int:
        if self.read_only:
            raise StoreError("the store was opened read-only")
        return inferred.replace_links(self._cursor(), start_unix_nano, end_unix_nano, links)

    def inferred_links(self, trace_ids: Sequence[str]) -> pa.Table:
        raw = [b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None]
        return inferred.links_of_traces(self._cursor(), raw)

    def inferred_link_stats(self) -> tuple[int, float | None]:
        return inferred.link_stats(self._cursor())

    @_writes
    def checkpoint(self) -> None:
        self._write_cursor.execute("CHECKPOINT")

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._sql_workers.close()
            if self._snapshots is not None:
                self._snapshots.close()
            self._con.close()
