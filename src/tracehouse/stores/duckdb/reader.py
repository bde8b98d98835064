"""Reads for the query service: SpanReader on DuckDB. Every statement is a .sql file with bound values.

Search and lookup by id lean on trace_summary_data (one row per trace, kept by the writer) so they need
not group millions of spans. The summary is trusted only while it accounts for every stored span;
otherwise the same statements run over summaries computed live from span_data: slower, never wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from tracehouse.model import (
    SPAN_ROW_SCHEMA,
    DependencyLink,
    DurationScope,
    Operation,
    SpanMetricsPoint,
    SpanMetricsQuery,
    TraceBreakdown,
    TraceQuery,
    TraceSummary,
)
from tracehouse.store import StoreError, trace_id_bytes
from tracehouse.stores.duckdb.sql_files import sql

# find_traces.sql has this many attribute slots (a VARIANT path must be a constant or bound value).
MAX_ATTRIBUTE_FILTERS = 8
_NS_MIN = -(2**63) + 1
_NS_MAX = 2**63 - 1
# TIMESTAMP_NS cannot hold the full BIGINT range; these bound every "no limit" time window.
_TIME_MIN = 0
_TIME_MAX = 2**62


class DuckDBReader:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def span_count(self) -> int:
        rows = self._cursor.execute("SELECT count(*) FROM span_data").fetchall()
        return int(rows[0][0]) if rows else 0

    def _summary_is_complete(self) -> bool:
        rows = self._cursor.execute(sql("read/summary_covers_spans")).fetchall()
        return bool(rows and rows[0][0])

    def _over_summaries(self, statement: str) -> str:
        """`statement` as is when the summary table is complete, else over live summaries.

        The CTE is named like the table so it shadows it; the statement text never changes.
        """
        if self._summary_is_complete():
            return statement
        return f"WITH trace_summary_data AS ({sql('read/trace_summary_live')})\n{statement}"

    def _time_band(self, ids: list[bytes]) -> tuple[int, int] | None:
        """The start-time band (ns) holding every span of the traces, from the summary when it is
        complete (zone maps then skip other row groups), else all time; None: no such trace."""
        if not self._summary_is_complete():
            return _TIME_MIN, _TIME_MAX
        [(first_start, last_end)] = self._cursor.execute(
            sql("read/trace_time_bounds"), {"trace_ids": ids}).fetchall()
        if first_start is None:
            return None
        return int(first_start), int(last_end)

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None))
        band = self._time_band(ids) if ids else None
        if band is None:
            return SPAN_ROW_SCHEMA.empty_table()
        low, high = band
        table = self._cursor.sql(
            sql("read/spans_of_traces"), params={"trace_ids": ids, "min_start": low, "max_start": high}
        ).to_arrow_table()
        return table.cast(SPAN_ROW_SCHEMA)

    def trace_breakdowns(self, summaries: Sequence[TraceSummary]) -> list[TraceBreakdown]:
        ids = list(dict.fromkeys(b for b in (trace_id_bytes(s.trace_id) for s in summaries) if b is not None))
        if not ids:
            return []
        # The summaries bound their spans' start times: no lookup of the band in the summary table
        # (a scan of one row per stored trace, most of this call's time at 10M spans).
        low = max(min(s.start_time_unix_nano for s in summaries), _TIME_MIN)
        high = min(max(s.start_time_unix_nano + s.duration_ns for s in summaries), _TIME_MAX)
        rows = self._cursor.execute(sql("read/trace_breakdowns"),
                                    {"trace_ids": ids, "min_start": low, "max_start": high}).fetchall()
        services: dict[str, dict[str, tuple[int, int]]] = {}
        orphans: dict[str, int] = {}
        for trace_id, service, spans, errors, orphan_count in rows:
            services.setdefault(str(trace_id), {})[str(service)] = (int(spans), int(errors))
            orphans[str(trace_id)] = int(orphan_count)
        return [TraceBreakdown(trace_id=t, services=per_service, orphan_span_count=orphans[t])
                for t, per_service in services.items()]

    def span_metrics(self, query: SpanMetricsQuery) -> list[SpanMetricsPoint]:
        if not query.services or not query.span_kinds or query.step_ns <= 0:
            return []
        points = query.lookback_ns // query.step_ns + 1
        first = query.end_ns - (points - 1) * query.step_ns
        params: dict[str, Any] = {
            "services": list(query.services), "kinds": list(query.span_kinds),
            "by_operation": query.group_by_operation, "first": first, "step": query.step_ns,
            "points": points, "rate_per": query.rate_per_ns,
        }
        name = "read/span_metrics_counts"
        if query.quantile is not None:
            name = "read/span_metrics_latencies"
            params["quantile"] = query.quantile
        rows = self._cursor.execute(sql(name), params).fetchall()
        return [
            SpanMetricsPoint(service=str(service), operation=None if op is None else str(op),
                             timestamp_ns=int(t), calls=int(calls), errors=int(errors),
                             latency_ns=None if latency is None else float(latency))
            for service, op, t, calls, errors, latency in rows
        ]

    def services(self) -> list[str]:
        return [str(r[0]) for r in self._cursor.execute(sql("read/services")).fetchall()]

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        rows = self._cursor.execute(
            sql("read/operations"), {"service": service, "span_kind": span_kind}
        ).fetchall()
        return [Operation(name=str(name), span_kind=str(kind)) for name, kind in rows]

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        if query.limit <= 0:
            return []
        if len(query.attributes) > MAX_ATTRIBUTE_FILTERS or "" in query.attributes:
            raise StoreError(f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters, each with a non-empty key")
        rows = self._cursor.execute(self._over_summaries(sql("read/find_traces")), _search_params(query)).fetchall()
        return [
            TraceSummary(
                trace_id=str(trace_id),
                root_service=root_service,
                root_span_name=root_name,
                start_time_unix_nano=int(start),
                duration_ns=int(duration),
                span_count=int(spans),
                error_count=int(errors),
                spans_per_service={str(k): int(v) for k, v in dict(per_service).items()},
            )
            for trace_id, root_service, root_name, start, duration, spans, errors, per_service in rows
        ]

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        rows = self._cursor.execute(
            sql("read/dependencies"),
            {"start": max(start_unix_nano, _TIME_MIN), "end": min(end_unix_nano, _TIME_MAX)},
        ).fetchall()
        return [
            DependencyLink(parent=str(p), child=str(c), call_count=int(n), error_count=int(e),
                           p95_duration_ns=int(p95 or 0))
            for p, c, n, e, p95 in rows
        ]


def _search_params(query: TraceQuery) -> dict[str, Any]:
    by_span = query.duration_scope is DurationScope.SPAN
    dur_min = query.duration_min_ns if query.duration_min_ns is not None else _NS_MIN
    dur_max = query.duration_max_ns if query.duration_max_ns is not None else _NS_MAX
    has_duration = query.duration_min_ns is not None or query.duration_max_ns is not None
    match_spans = bool(
        query.operation or query.span_kind or query.attributes or (by_span and has_duration)
    )
    return {
        "start_min": max(query.start_time_min_ns or _TIME_MIN, _TIME_MIN),
        "start_max": min(query.start_time_max_ns if query.start_time_max_ns is not None else _TIME_MAX,
                         _TIME_MAX),
        "trace_dur_min": _NS_MIN if by_span else dur_min,
        "trace_dur_max": _NS_MAX if by_span else dur_max,
        "service": query.service,
        "match_spans": match_spans,
        "operation": query.operation,
        "span_kind": query.span_kind,
        "span_dur_min": dur_min if by_span else _NS_MIN,
        "span_dur_max": dur_max if by_span else _NS_MAX,
        **_attribute_slots(query.attributes),
        "sort": query.sort.value,
        "limit": query.limit,
    }


def _attribute_slots(attributes: dict[str, str]) -> dict[str, str]:
    slots: dict[str, str] = {}
    items = list(attributes.items())
    for i in range(MAX_ATTRIBUTE_FILTERS):
        key, value = items[i] if i < len(items) else ("", "")
        slots[f"k{i + 1}"] = key
        slots[f"v{i + 1}"] = value
    return slots
