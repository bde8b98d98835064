"""Copying the spans of one store into another (`tracehouse migrate`): the source's spans, read in
time windows as `model.SPAN_ROW_SCHEMA` tables (AnalyticsReader.export_spans), turned back into
`model.SPAN_BATCH_SCHEMA` batches and written with SpanWriter.write_spans. Writes are idempotent, so
a migration that stopped half-way is simply run again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.model import SPAN_BATCH_SCHEMA, SPAN_KINDS, STATUS_CODES
from tracehouse.store import AnalysisFilter, AnalyticsReader, SpanWriter

SPANS_PER_WINDOW = 50_000


@dataclass(frozen=True)
class MigrationResult:
    read: int
    stored: int


def _ids(column: pa.ChunkedArray, width: int) -> pa.Array:
    values = [bytes.fromhex(v) if v else None for v in column.to_pylist()]
    return pa.array(values, pa.binary(width))


def _codes(column: pa.ChunkedArray, names: tuple[str, ...]) -> pa.Array:
    return pc.index_in(column, value_set=pa.array(list(names))).fill_null(0).cast(pa.uint8())


def rows_to_batch(rows: pa.Table) -> pa.Table:
    """SPAN_ROW_SCHEMA (what readers return) back to SPAN_BATCH_SCHEMA (what writers take)."""
    start = rows.column("start_time_unix_nano")
    columns = {
        "trace_id": _ids(rows.column("trace_id"), 16),
        "span_id": _ids(rows.column("span_id"), 8),
        "parent_span_id": _ids(rows.column("parent_span_id"), 8),
        "span_kind": _codes(rows.column("span_kind"), SPAN_KINDS),
        "end_time_unix_nano": pc.add(start, rows.column("duration_ns")),
        "status_code": _codes(rows.column("status_code"), STATUS_CODES),
    }
    return pa.table({f.name: columns[f.name] if f.name in columns else rows.column(f.name).cast(f.type)
                     for f in SPAN_BATCH_SCHEMA}, schema=SPAN_BATCH_SCHEMA)


def copy_spans(source: AnalyticsReader, target: SpanWriter, first_start_ns: int, last_start_ns: int,
               span_count: int, progress: Callable[[int, int], None] | None = None) -> MigrationResult:
    """Copy every span that started in [first_start_ns, last_start_ns] in windows of about
    SPANS_PER_WINDOW spans (assuming an even rate; a denser window is just a bigger batch)."""
    if span_count == 0:
        return MigrationResult(0, 0)
    width = max(10**9, (last_start_ns - first_start_ns + 1) * SPANS_PER_WINDOW // span_count)
    read = stored = 0
    start = first_start_ns
    while start <= last_start_ns:
        end = start + width
        rows = source.export_spans(AnalysisFilter(start_ns=start, end_ns=end))
        if rows.num_rows:
            result = target.write_spans(rows_to_batch(rows))
            read += result.received
            stored += result.stored
            if progress:
                progress(read, stored)
        start = end
    return MigrationResult(read, stored)
