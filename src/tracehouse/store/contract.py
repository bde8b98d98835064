"""The store contract, modelled on Jaeger's tracestore reader/writer interfaces.

Everything outside `tracehouse.stores` talks to storage only through these Protocols, so a
ClickHouse store can replace DuckDB without touching the receiver, the query service or the UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pyarrow as pa

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


class StoreError(Exception):
    """The store could not do what was asked; the message says why in plain words."""


class IncompatibleStoreError(StoreError):
    """The data directory was written by an incompatible schema version. It is refused, never changed."""


class StoreBusyError(StoreError):
    """The store is held by another process (a file lock): opening it may succeed once that process
    lets go. `tracehouse up` waits for it, acknowledging into its spool meanwhile. A store without
    such locks never raises it."""


class StoreUnavailableError(StoreError):
    """The store cannot write or read for now (its disk is full, an I/O error, a server that does
    not answer). On a write nothing of the batch was stored, and the same batch may succeed later:
    writers retry it rather than set it aside. On a read nothing is wrong with the question: the
    API answers 503 and the same read may succeed later."""


class SqlRefusedError(StoreError):
    """A user's SQL was refused (it writes, reaches files/network, changes settings, or is several
    statements). Nothing was run and the store is unchanged."""


class SqlTimeoutError(StoreError):
    """A user's SQL ran past its time limit and was cancelled."""


class SqlMemoryError(StoreError):
    """A user's SQL needed more memory than its cap and was stopped; nothing else was affected."""


@dataclass(frozen=True)
class WriteResult:
    received: int   # rows handed to write_spans
    stored: int     # rows that were new (the rest were already stored)


@runtime_checkable
class SpanWriter(Protocol):
    #: The batch size, in spans, that this store writes most cheaply per span; writers that can
    #: choose (the ingest pipeline under load) send batches of exactly this many. 0: no preference.
    preferred_batch_spans: int

    def write_spans(self, batch: pa.Table) -> WriteResult:
        """Store a batch in `tracehouse.model.SPAN_BATCH_SCHEMA`.

        Guarantees:
        - Durable on return: once this returns, the spans survive a crash (kill -9, power loss of
          the process) and are visible to readers.
        - Atomic: the whole batch is stored, or (on exception) none of it.
        - Idempotent: a span whose (trace_id, span_id, start time) is already stored is not stored
          again, whether it repeats inside the batch or arrived in an earlier one. Client retries
          resend byte-identical spans, so they are stored once.
        - Not thread-safe: one writer at a time (the ingest pipeline's commit thread owns it).
        """
        ...

    def delete_before(self, cutoff_unix_nano: int) -> int:
        """Delete spans that started before the cutoff, except those of traces pinned (pin_traces)
        until a time still to come; drop expired pins. Returns how many spans. Durable on return."""
        ...

    def pin_traces(self, trace_ids: Sequence[str], keep_until_unix_nano: int | None) -> None:
        """Keep the given traces (hex ids) out of delete_before until `keep_until_unix_nano`, or
        until deleted by other means when None; replaces earlier pins of the same traces. Durable on
        return. For imported data, which is usually older than the retention window."""
        ...

    def enforce_max_size(self, max_bytes: int) -> int:
        """Delete the oldest spans until `size_bytes()` is at most `max_bytes`; returns how many.
        Never deletes anything while the store is within the cap. Pinned traces are not spared: the
        cap protects the disk."""
        ...


@runtime_checkable
class SpanReader(Protocol):
    """Reads. An empty result is a normal answer, never an error: a search that matches nothing
    returns [], an unknown trace id returns an empty table. Errors mean the store failed."""

    def services(self) -> list[str]:
        """Every service name that has spans, sorted."""
        ...

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        """Span names with their kinds, for one service or all; sorted by name."""
        ...

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Traces matching the query, ordered by `query.sort`, at most `query.limit`."""
        ...

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        """All spans of the given traces (hex ids), in `tracehouse.model.SPAN_ROW_SCHEMA`,
        ordered by trace then start time. Unknown ids contribute no rows."""
        ...

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        """Service-to-service calls among spans that started in the window."""
        ...

    def span_count(self) -> int:
        """How many spans are stored."""
        ...

    def trace_breakdowns(self, summaries: Sequence[TraceSummary]) -> list[TraceBreakdown]:
        """Per service spans and error spans, and orphan spans, of each trace of `summaries` (as
        find_traces returned them: their start and duration bound where the spans are, so a store
        may read only that time band); traces without spans are left out. For Jaeger's v3 trace
        summaries."""
        ...

    def span_metrics(self, query: SpanMetricsQuery) -> list[SpanMetricsPoint]:
        """RED metrics over stored spans (see model.SpanMetricsQuery), ordered by series then time.
        Counts are 0 at points of a series with no span in their window; latency_ns is then None."""
        ...


@runtime_checkable
class SqlRunner(Protocol):
    def run_sql(self, sql: str, max_rows: int, timeout_seconds: float,
                params: Sequence[object] = ()) -> SqlResult:
        """Run one read-only statement from a user.

        Refuses (SqlRefusedError, nothing run) anything but a single SELECT-like statement, and
        anything that would reach files, the network, extensions or settings. Stops after
        `timeout_seconds` (SqlTimeoutError). Returns at most `max_rows` rows, with `truncated` set
        when there were more. Never changes the store.
        """
        ...

    def sql_dialect(self) -> str:
        """The SQL dialect users write in ('duckdb', 'clickhouse'), for docs and the console."""
        ...


@runtime_checkable
class Store(SpanWriter, SpanReader, SqlRunner, Protocol):
    def size_bytes(self) -> int:
        """Bytes the stored spans occupy on disk. Space of deleted spans, which the store reuses for
        new ones, is not counted, so the figure drops as soon as spans are deleted."""
        ...

    def close(self) -> None:
        """Flush and release the store. Idempotent."""
        ...
