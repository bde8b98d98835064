"""Honest counts over tail-sampled data: re-weighting by each kept trace's sampling weight.

A trace kept with probability p stands for 1/p requests (its weight, recorded by the tail sampler;
traces stored unsampled weigh 1). Summing weights gives unbiased estimates of real request, span
and error counts (Horvitz-Thompson). An analysis over a window that holds sampled traces calls
`sampled_counts` and, when it returns something, says the data is sampled and shows estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracehouse.analytics.report import COUNT, PERCENT, Column
from tracehouse.store import AnalysisFilter, SamplingStore

_NO_END = 2**62


@dataclass(frozen=True)
class OperationCounts:
    spans: int
    error_spans: int
    est_spans: float
    est_error_spans: float


@dataclass(frozen=True)
class SampledCounts:
    """Stored and estimated real counts of a window that holds tail-sampled traces."""

    stored_traces: int
    est_traces: float
    by_operation: dict[tuple[str, str], OperationCounts] = field(default_factory=dict)

    def note(self) -> str:
        return (f"sampled data: the {self.stored_traces:,} stored traces stand for about {self.est_traces:,.0f} "
                "requests (each kept trace weighted by 1 / its sampling probability); est. columns are "
                "estimated real counts")

    def add_error_estimates(self, rows: list[dict[str, Any]]) -> list[Column]:
        """Add est_errors and est_error_rate to rows with service and operation; their columns."""
        for row in rows:
            c = self.by_operation.get((row["service"], row["operation"]))
            row["est_errors"] = round(c.est_error_spans) if c else None
            row["est_error_rate"] = 100 * c.est_error_spans / c.est_spans if c and c.est_spans else None
        return [Column("est_errors", "est. real errors", COUNT), Column("est_error_rate", "est. real error rate",
                                                                         PERCENT)]


def store_ever_sampled(reader: object) -> bool:
    """Whether the store ever kept a trace weighing above 1 (a small query on ClickHouse). An
    analysis asks once and passes the answer to sampled_counts and trace_weights: a trace kept by
    another instance meanwhile is then seen by the next analysis, as any span written meanwhile."""
    return isinstance(reader, SamplingStore) and reader.ever_sampled()


def sampled_counts(reader: object, flt: AnalysisFilter, ever_sampled: bool | None = None) -> SampledCounts | None:
    """The window's stored and estimated counts when it holds tail-sampled traces, else None.
    (The window only: service/operation filters select traces, and the estimates are per
    operation, so the caller picks the operations it shows.) `ever_sampled`: store_ever_sampled's
    answer when the caller already has it."""
    if not isinstance(reader, SamplingStore):
        return None
    if ever_sampled is None:
        ever_sampled = reader.ever_sampled()
    if not ever_sampled:
        return None
    table = reader.weighted_span_counts(flt.start_ns or 0, flt.end_ns or _NO_END, ever_sampled=True)
    if table.num_rows == 0:
        return None
    rows = table.to_pylist()
    if not any(r["sampled_spans"] for r in rows):
        return None
    return SampledCounts(
        stored_traces=sum(int(r["root_traces"]) for r in rows),
        est_traces=sum(float(r["est_root_traces"]) for r in rows),
        by_operation={(r["service"], r["operation"]): OperationCounts(
            int(r["spans"]), int(r["error_spans"]), float(r["est_spans"]), float(r["est_error_spans"]))
            for r in rows},
    )


def trace_weights(reader: object, trace_ids: list[str], ever_sampled: bool | None = None) -> dict[str, float]:
    """Sampling weights of these (hex) traces; traces stored unsampled are absent (weight 1). A store
    that never kept a trace with a weight above 1 has none to give (one cheap query instead of a
    look-up of every trace id: on ClickHouse that look-up cost doctor and latency ~0.3 s at 1M traces).
    `ever_sampled`: store_ever_sampled's answer when the caller already has it."""
    if not trace_ids or not isinstance(reader, SamplingStore):
        return {}
    if ever_sampled is None:
        ever_sampled = reader.ever_sampled()
    if not ever_sampled:
        return {}
    return reader.trace_weights(trace_ids)
