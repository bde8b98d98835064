"""What a store must offer for the analyses beyond the trace view (`tracehouse analyze ...`).

The heavy lifting (scans, joins, grouping over millions of spans) runs inside the store, in its own
query language; the store hands back small Arrow tables whose columns are listed below, and
`tracehouse.analytics` does the rest in Python (ranking, critical paths, what-if). A ClickHouse
store implements the same methods in its own SQL.

Every method takes an `AnalysisFilter`. Empty results are normal answers (a table with no rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

# How many attribute filters one analysis accepts (the DuckDB store has four fixed slots).
MAX_ATTRIBUTE_FILTERS = 4
# What an analysis does with traces that reconstruction joined (AnalysisFilter.reconstructed).
RECONSTRUCTED_MODES = ("received", "include", "exclude", "only")


@dataclass(frozen=True)
class AnalysisFilter:
    """The traces an analysis looks at.

    - Time window: spans that started in [start_ns, end_ns) (unix nanoseconds; None = unbounded).
      A trace's duration is measured over its spans in the window.
    - service / operation: the trace has a span of that service (and that operation).
    - attributes: for each key=value, some span of the trace carries it, as a span attribute or a
      resource attribute (values compared as text: 'true', '3', '1.4.2').
    - reconstructed: what to do with traces that inferred links join (links_contract):
      'received' (the default) reads spans as they were received, each fragment a trace of its own;
      'include' reads them whole, each fragment's spans under the trace it was joined to and its
      root span under its inferred parent, as if propagation had worked; 'exclude' leaves out every
      trace reconstruction touched (fragments and the traces they were joined to); 'only' keeps just
      those, joined as 'include' does. With no inferred links stored, every mode but 'only' reads
      every trace, 'only' none. Exports (export_spans, export_span_batches) select by it but always
      return spans as stored: never re-parented, never under another trace id.
    """

    start_ns: int | None = None
    end_ns: int | None = None
    service: str | None = None
    operation: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    reconstructed: str = "received"

    def __post_init__(self) -> None:
        if self.reconstructed not in RECONSTRUCTED_MODES:
            raise ValueError(f"reconstructed is one of {', '.join(RECONSTRUCTED_MODES)}, got {self.reconstructed!r}")
        if len(self.attributes) > MAX_ATTRIBUTE_FILTERS:
            raise ValueError(f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters, got {len(self.attributes)}")
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            raise ValueError("the time window ends before it starts")


@dataclass(frozen=True)
class Selection:
    """Which traces form the selection that `attribute_contrast` compares with the rest.

    Exactly one of: the slowest `slowest_fraction` (0.05 = slowest 5%), traces lasting at least
    `min_duration_ns`, the traces with an error (`errors=True`), or (added for issue 11) the traces
    the caller chose: `traces`, against `others` (hex trace ids; each side read whole up to
    max_traces, the first ids first). The analyses choose the slow side this way, by the one trace
    duration (tracehouse.analytics.trace_time); with slowest_fraction and min_duration_ns the store
    measures a trace by the envelope of its spans in the window.
    """

    slowest_fraction: float | None = None
    min_duration_ns: int | None = None
    errors: bool = False
    traces: tuple[str, ...] | None = None
    others: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        chosen = sum((self.slowest_fraction is not None, self.min_duration_ns is not None, self.errors,
                      self.traces is not None))
        if chosen != 1:
            raise ValueError("choose exactly one selection: slowest fraction, minimum duration, or errors")
        if self.slowest_fraction is not None and not 0 < self.slowest_fraction < 1:
            raise ValueError("the slowest fraction must be between 0 and 1 (0.05 for the slowest 5%)")


@runtime_checkable
class AnalyticsReader(Protocol):
    def route_stats(self, flt: AnalysisFilter, slowest_fraction: float | None = None,
                    max_traces: int | None = None) -> pa.Table:
        """One row per route: the traces that make the same calls (caller service:operation ->
        callee service:operation, with multiplicity, plus the root).

        With `max_traces`, when more traces are selected, only a fixed pseudo-random sample of about
        that many is grouped (those with the lowest trace-id hashes: the same sample every time), and
        the slow threshold is the sample's. The counts then add up to the sample's size.

        Columns: route_key (string), traces, error_traces, p50_ns, p95_ns, p99_ns (float64),
        slow_traces (traces at or above the slow threshold; 0 without `slowest_fraction`),
        slow_threshold_ns (same in every row; null without `slowest_fraction`),
        example_trace_id (hex, the route's slowest trace), selected_traces (int64, same in every row:
        the traces the filter selects, of which the rows count all or a sample). Ordered by traces,
        descending.
        """
        ...

    def origin_stats(self, flt: AnalysisFilter, service: str, operation: str | None = None,
                     max_traces: int | None = None) -> pa.Table:
        """Calls into `service` (its spans whose parent is in another service, or that are roots),
        grouped by where they came from.

        With `max_traces` (added for issue 11; callers pass it only when the filter selects more
        traces than that), only the calls of a fixed pseudo-random sample of about that many traces
        are grouped (as route_stats samples: the lowest trace-id hashes, the same every time).

        Columns: entry (root 'service:operation'), chain (the upstream calls, root first, joined by
        ' > '; empty for calls that are themselves roots), operation (the called operation), calls,
        error_calls, p50_ns, p95_ns (of the called span's duration), example_trace_id.
        Ordered by calls, descending.
        """
        ...

    def attribute_contrast(self, flt: AnalysisFilter, selection: Selection, max_traces: int) -> pa.Table:
        """How often each attribute value occurs in selected traces and in the others (baseline).

        A trace "has" a value when any of its spans carries it (span or resource attribute). At most
        `max_traces` traces of each side are read, sampled by trace id, to bound the cost (with
        Selection.traces: the first max_traces ids of each side; threshold_ns is then null).
        Columns: scope ('span' | 'resource'), key, value (text), selected, baseline (trace counts),
        selected_total, baseline_total (traces read on each side; same in every row),
        threshold_ns (the duration threshold, null for errors).
        """
        ...

    def error_hotspots(self, flt: AnalysisFilter) -> pa.Table:
        """Where errors happen. Columns: service, operation, version (resource service.version, may be
        null), spans, error_spans, example_trace_id (hex, an erroring trace). Ordered by error_spans."""
        ...

    def trace_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        """The spans of up to `max_traces` selected traces, sampled by trace id (the same sample every
        time), for per-trace work such as critical paths.

        Columns: trace_id, span_id, parent_span_id (hex; parent null for roots), service_name,
        span_name, span_kind ('SERVER', 'CLIENT', ...), start_time_unix_nano, duration_ns, error (bool).
        Ordered by trace_id, start.
        """
        ...

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        """trace_sample's spans (the same sample) with what doctor needs to place a cause.

        Columns: those of trace_sample, plus span_kind ('SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER',
        'INTERNAL' or 'UNSPECIFIED'), attributes and resource_attributes (JSON objects as text; the
        resource's may be null). Ordered by trace_id, start.
        """
        ...

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        """(traces selected, start of the earliest, start of the latest) in unix ns; (0, None, None)
        when none is."""
        ...

    def export_spans(self, flt: AnalysisFilter) -> pa.Table:
        """Every span of the selected traces, in `tracehouse.model.SPAN_ROW_SCHEMA`, by start time."""
        ...

    def export_span_batches(self, flt: AnalysisFilter) -> Iterator[pa.RecordBatch]:
        """The same spans in the same order, a bounded slice at a time, so an export of any size
        works within the store's memory (the API streams them, `tracehouse export` writes them)."""
        ...

    def count_traces(self, flt: AnalysisFilter) -> int:
        """How many traces the filter selects."""
        ...


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str


@dataclass(frozen=True)
class CatalogTable:
    name: str
    kind: str                   # 'view' or 'table'
    description: str
    columns: tuple[CatalogColumn, ...]


@dataclass(frozen=True)
class ExampleQuery:
    title: str
    sql: str

    @staticmethod
    def parse(text: str) -> list[ExampleQuery]:
        """A store's examples file, split at its '-- example: title' lines (every store keeps its
        console examples in its own dialect, in this one format)."""
        marks = list(_EXAMPLE_MARK.finditer(text))
        examples = []
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[mark.end():end].strip().rstrip(";").strip()
            examples.append(ExampleQuery(mark.group(1).strip(), body))
        return examples


_EXAMPLE_MARK = re.compile(r"^-- example: (.+)$", re.MULTILINE)


@runtime_checkable
class SqlCatalog(Protocol):
    """What the SQL console's schema browser shows: the relations users may query, and examples."""

    def sql_catalog(self) -> list[CatalogTable]:
        ...

    def sql_examples(self) -> list[ExampleQuery]:
        ...
