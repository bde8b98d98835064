"""Inferred links on ClickHouse (store/links_contract.py): a table beside the spans, versioned rows
with tombstones (sql/schema/inferred_links.sql), so a rerun over a range replaces its links in one
INSERT, which readers see whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.model import SPAN_KINDS
from tracehouse.store import CALL_SPAN_SCHEMA, INFERRED_LINK_SCHEMA, StoreError
from tracehouse.stores.clickhouse import native
from tracehouse.stores.clickhouse.results import Result

_ZERO_TRACE = b"\0" * 16
_ZERO_SPAN = b"\0" * 8


class LinkVersions:
    """Strictly increasing versions (ns), so a rerun in the same nanosecond still wins."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last


def call_span_table(result: Result) -> pa.Table:
    rows = result.rows
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in CALL_SPAN_SCHEMA]
    columns[5] = [SPAN_KINDS[int(k)] if int(k) < len(SPAN_KINDS) else "UNSPECIFIED" for k in columns[5]]
    return pa.table([pa.array(values, field.type) for values, field in zip(columns, CALL_SPAN_SCHEMA, strict=True)],
                    schema=CALL_SPAN_SCHEMA)


def link_table(result: Result) -> pa.Table:
    rows = result.rows
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in INFERRED_LINK_SCHEMA]
    return pa.table([pa.array(values, field.type) for values, field in zip(columns, INFERRED_LINK_SCHEMA,
                                                                             strict=True)],
                    schema=INFERRED_LINK_SCHEMA)


def checked_links(start_unix_nano: int, end_unix_nano: int, links: pa.Table) -> pa.Table:
    links = links.select(INFERRED_LINK_SCHEMA.names).cast(INFERRED_LINK_SCHEMA)
    if links.num_rows:
        starts = links.column("child_start_time_unix_nano")
        if pc.min(starts).as_py() < start_unix_nano or pc.max(starts).as_py() >= end_unix_nano:
            raise StoreError("every inferred link's child must start inside the range it replaces")
    return links


def _id_bytes(values: Sequence[str | None], width: int) -> pa.Array:
    return pa.array([bytes.fromhex(v.rjust(width * 2, "0")) if v else b"\0" * width for v in values],
                    pa.binary(width))


def link_block(links: pa.Table, tombstones: Sequence[tuple[str, str, int]], version: int) -> tuple[bytes, int]:
    """One Native block: the new links, then a tombstone for each (child trace, span, start) given."""
    rows = links.to_pylist()
    count = len(rows) + len(tombstones)
    child_traces = [r["child_trace_id"] for r in rows] + [t for t, _, _ in tombstones]
    child_spans = [r["child_span_id"] for r in rows] + [s for _, s, _ in tombstones]
    starts = [r["child_start_time_unix_nano"] for r in rows] + [st for _, _, st in tombstones]
    blanks = [None] * len(tombstones)
    columns = [
        native.fixed_string_column("child_trace_id", _id_bytes(child_traces, 16), 16, nullable=False),
        native.fixed_string_column("child_span_id", _id_bytes(child_spans, 8), 8, nullable=False),
        native.number_column("child_start_time_unix_nano", pa.array(starts, pa.int64()), "Int64"),
        native.fixed_string_column("parent_trace_id", _id_bytes([r["parent_trace_id"] for r in rows] + blanks, 16),
                                   16, nullable=False),
        native.fixed_string_column("parent_span_id", _id_bytes([r["parent_span_id"] for r in rows] + blanks, 8),
                                   8, nullable=False),
        native.number_column("confidence", pa.array([r["confidence"] or 0.0 for r in rows] + [0.0] * len(blanks),
                                                    pa.float64()), "Float64"),
        native.string_column("method", pa.array([r["method"] or "" for r in rows] + [""] * len(blanks)), False),
        native.string_column("child_service", pa.array([r["child_service"] or "" for r in rows] + [""] * len(blanks)),
                             False),
        native.string_column("parent_service",
                             pa.array([r["parent_service"] or "" for r in rows] + [""] * len(blanks)), False),
        native.number_column("deleted", pa.array([0] * len(rows) + [1] * len(blanks), pa.uint8()), "UInt8"),
        native.number_column("version", pa.array([version] * count, pa.uint64()), "UInt64"),
    ]
    return native.block(columns, count), count
