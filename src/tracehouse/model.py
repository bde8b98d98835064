"""Plain data shared by every layer: span vocabulary, the columnar batch schema, query and result types.

No I/O here. The decoders produce `SPAN_BATCH_SCHEMA` tables; every store accepts them; readers return
the dataclasses below (or Arrow tables in `SPAN_ROW_SCHEMA` when many spans are read at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

# Index = the OTLP enum value, so decoders can map integers with a list lookup.
SPAN_KINDS: tuple[str, ...] = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES: tuple[str, ...] = ("UNSET", "OK", "ERROR")

# What an OTLP decoder hands to a store: one row per accepted span, ids as raw bytes, attribute maps
# as JSON text whose values keep their OTLP types (string, int, double, bool, array, object; bytes
# become base64 strings). Events and links are JSON arrays, or null when the span has none (a link
# carries its OTLP flags). Empty OTLP strings (schema URLs) are null.
# Stores also accept any string column dictionary-encoded (the decoder sends resource_attributes so).
SPAN_BATCH_SCHEMA = pa.schema([
    ("trace_id", pa.binary(16)),
    ("span_id", pa.binary(8)),
    ("parent_span_id", pa.binary(8)),          # null for a root span
    ("trace_state", pa.string()),
    ("service_name", pa.string()),
    ("span_name", pa.string()),
    ("span_kind", pa.uint8()),                 # index into SPAN_KINDS
    ("start_time_unix_nano", pa.int64()),
    ("end_time_unix_nano", pa.int64()),
    ("status_code", pa.uint8()),               # index into STATUS_CODES
    ("status_message", pa.string()),
    ("attributes", pa.string()),               # JSON object
    ("resource_attributes", pa.string()),      # JSON object
    ("events", pa.string()),                   # JSON array of {time_unix_nano, name, attributes}
    ("links", pa.string()),                    # JSON array of {trace_id, span_id, trace_state, attributes}
    ("scope_name", pa.string()),
    ("scope_version", pa.string()),
    ("flags", pa.int64()),                     # the span's OTLP flags (W3C trace flags, bits 8-9 remote)
    ("scope_attributes", pa.string()),         # JSON object, or null when the scope has none
    ("scope_schema_url", pa.string()),
    ("resource_schema_url", pa.string()),
])

# What readers return when they hand back whole spans: ids as lowercase hex, names for enums,
# attribute maps and events/links as JSON text (values keep their JSON types).
SPAN_ROW_SCHEMA = pa.schema([
    ("trace_id", pa.string()),
    ("span_id", pa.string()),
    ("parent_span_id", pa.string()),
    ("trace_state", pa.string()),
    ("service_name", pa.string()),
    ("span_name", pa.string()),
    ("span_kind", pa.string()),
    ("start_time_unix_nano", pa.int64()),
    ("duration_ns", pa.int64()),
    ("status_code", pa.string()),
    ("status_message", pa.string()),
    ("attributes", pa.string()),
    ("resource_attributes", pa.string()),
    ("events", pa.string()),
    ("links", pa.string()),
    ("scope_name", pa.string()),
    ("scope_version", pa.string()),
    ("flags", pa.int64()),                     # null for spans stored before schema version 3
    ("scope_attributes", pa.string()),
    ("scope_schema_url", pa.string()),
    ("resource_schema_url", pa.string()),
])


class SortOrder(StrEnum):
    """How trace search results are ordered."""

    RECENT = "recent"
    LONGEST = "longest"
    MOST_SPANS = "most_spans"
    MOST_ERRORS = "most_errors"


class DurationScope(StrEnum):
    """What a min/max duration filter applies to.

    TRACE (our default): the whole trace's duration, root start to last end — what people mean by
    "slow requests". SPAN: any one matching span (Jaeger's semantics, jaeger#4107).
    """

    TRACE = "trace"
    SPAN = "span"


@dataclass(frozen=True)
class TraceQuery:
    """A trace search. Every filter is optional; an empty query returns the most recent traces.

    `attributes` are AND-ed exact matches on span attributes (or resource attributes) of one span
    that also matches service/operation when those are given.
    """

    service: str | None = None
    operation: str | None = None
    span_kind: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    start_time_min_ns: int | None = None
    start_time_max_ns: int | None = None
    duration_min_ns: int | None = None
    duration_max_ns: int | None = None
    duration_scope: DurationScope = DurationScope.TRACE
    limit: int = 100
    sort: SortOrder = SortOrder.RECENT


@dataclass(frozen=True)
class TraceSummary:
    """One row per trace, as listed by search."""

    trace_id: str
    root_service: str | None
    root_span_name: str | None
    start_time_unix_nano: int
    duration_ns: int
    span_count: int
    error_count: int
    spans_per_service: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceBreakdown:
    """What a trace summary adds for Jaeger's v3 TraceSummary: per service, its spans and error spans;
    and the spans whose parent span is not stored in the trace (orphans: an incomplete trace)."""

    trace_id: str
    services: dict[str, tuple[int, int]]   # service -> (spans, error spans)
    orphan_span_count: int


@dataclass(frozen=True)
class SpanMetricsQuery:
    """RED metrics of spans, as Jaeger's Monitor tab asks for them (see docs/api.md).

    One value per series and per point t = end - lookback + k * step (k >= 0, t <= end), computed over
    the spans of the series that started in (t - rate_per, t]: the calls, the calls with an error,
    and the `quantile` of their durations. A series is a service, or a service and operation when
    `group_by_operation`.
    """

    services: tuple[str, ...]
    span_kinds: tuple[str, ...]     # names from SPAN_KINDS
    group_by_operation: bool
    end_ns: int
    lookback_ns: int
    step_ns: int
    rate_per_ns: int
    quantile: float | None = None   # None: counts only


@dataclass(frozen=True)
class SpanMetricsPoint:
    service: str
    operation: str | None           # None unless grouped by operation
    timestamp_ns: int
    calls: int
    errors: int
    latency_ns: float | None        # the quantile's duration; None when not asked for


@dataclass(frozen=True)
class Operation:
    name: str
    span_kind: str


@dataclass(frozen=True)
class DependencyLink:
    """Calls from one service to another: a span of `child` whose parent span belongs to `parent`."""

    parent: str
    child: str
    call_count: int
    error_count: int = 0
    p95_duration_ns: int = 0


@dataclass(frozen=True)
class SqlResult:
    """The result of a read-only SQL query: column names and types, rows, and whether rows were cut."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float
