"""Jaeger's v3 TraceSummary (jaeger-idl api_v3/query_service.proto), in its proto3 JSON encoding:
camelCase names, fixed64 timestamps as decimal strings, int32 counts as numbers — every field present,
zeros included, since the Jaeger UI 2.19 client requires them all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracehouse.model import TraceBreakdown, TraceSummary


def v3_summary(summary: TraceSummary, breakdown: TraceBreakdown | None) -> dict[str, Any]:
    """One TraceSummary. Per-service counts come from `breakdown` (None when the trace's spans were
    deleted between the search and the breakdown: the search's per-service span counts are used)."""
    if breakdown is not None:
        services = breakdown.services
        orphans = breakdown.orphan_span_count
    else:
        services = {name: (count, 0) for name, count in summary.spans_per_service.items()}
        orphans = 0
    return {
        "traceId": summary.trace_id,
        # The same id under the name the Jaeger UI's first trace-summaries client (2.19) requires; later
        # clients read either (schemas.ts normalises traceID to traceId). Harmless to proto3 parsers,
        # which ignore unknown fields.
        "traceID": summary.trace_id,
        "rootServiceName": summary.root_service or "",
        "rootOperationName": summary.root_span_name or "",
        "minStartTimeUnixNano": str(summary.start_time_unix_nano),
        "maxEndTimeUnixNano": str(summary.start_time_unix_nano + summary.duration_ns),
        "spanCount": summary.span_count,
        "errorSpanCount": summary.error_count,
        "orphanSpanCount": orphans,
        # "one entry per distinct service name observed across all spans, sorted by name"
        "services": [{"name": name, "spanCount": spans, "errorSpanCount": errors}
                     for name, (spans, errors) in sorted(services.items())],
    }


def v3_summaries(summaries: Sequence[TraceSummary], breakdowns: Sequence[TraceBreakdown]) -> dict[str, Any]:
    """A FindTraceSummariesResponse: {"summaries": [...]}, in the search's order."""
    by_id = {b.trace_id: b for b in breakdowns}
    return {"summaries": [v3_summary(s, by_id.get(s.trace_id)) for s in summaries]}
