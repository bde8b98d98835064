"""`analyze latency`: where end-to-end time goes, from the critical path of each trace.

Critical paths are per trace and computed in Python (tracehouse.analytics.critical_path, the same
code as the trace view), so they run over a fixed sample of traces chosen by the store (the same
sample every time, whoever asks): 3,000 traces by default, whose p95 is within a few percent of the
full set's. The sample keeps the analysis within its 2 s budget on a large store, with a baseline
(two samples): the path walk costs ~0.25 ms of CPU per trace of ~11 spans (10,000 a side took 6.5 s
of CPU at 1M traces, bench/scale_bench.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tracehouse.analytics.critical_path import PathSegment, SpanTiming
from tracehouse.analytics.parsing import WhatIf
from tracehouse.analytics.report import COUNT, MS, PERCENT, TEXT, Column, Report
from tracehouse.analytics.sampled import sampled_counts, store_ever_sampled, trace_weights
from tracehouse.analytics.trace_time import trace_critical_path
from tracehouse.store import AnalysisFilter, AnalyticsReader

DEFAULT_SAMPLE = 3_000


def traces_of(sample: pa.Table) -> Iterator[list[SpanTiming]]:
    """Group the store's sample (ordered by trace) into the span lists critical_path takes."""
    names = ["trace_id", "span_id", "parent_span_id", "service_name", "span_name", "start_time_unix_nano",
             "duration_ns"]
    cols = sample.select(names).to_pydict()
    kinds = sample.column("span_kind").to_pylist() if "span_kind" in sample.column_names else [""] * sample.num_rows
    current: str | None = None
    spans: list[SpanTiming] = []
    for tid, sid, pid, svc, name, start, dur, kind in zip(*cols.values(), kinds, strict=True):
        if tid != current:
            if spans:
                yield spans
            current, spans = tid, []
        spans.append(SpanTiming(sid, pid, svc, name, start, start + dur, kind or ""))
    if spans:
        yield spans


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (what DuckDB's quantile_cont does)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class PathSample:
    """Critical paths of the sampled traces."""

    paths: list[list[PathSegment]]
    durations: list[int]
    weights: list[float] = field(default_factory=list)   # tail-sampling weight of each (1: unsampled)
    # store_ever_sampled's answer, asked for the weights (None: not asked, no traces), so the
    # analysis does not ask the store again.
    ever_sampled: bool | None = None


def sample_paths(reader: AnalyticsReader, flt: AnalysisFilter, max_traces: int = DEFAULT_SAMPLE,
                 table: pa.Table | None = None) -> PathSample:
    """Critical paths of the store's sample; or, with `table` (a sample already fetched, ordered by
    trace, with trace_sample's columns), of its first `max_traces` traces."""
    paths, durations, weights = [], [], []
    if table is None:
        table = reader.trace_sample(flt, max_traces)
    trace_ids = list(dict.fromkeys(table.column("trace_id").to_pylist())) if table.num_rows else []
    if len(trace_ids) > max_traces:
        trace_ids = trace_ids[:max_traces]
        rows = pc.sum(pc.is_in(table.column("trace_id"), pa.array(trace_ids))).as_py()
        table = table.slice(0, rows)
    ever_sampled = store_ever_sampled(reader) if trace_ids else None
    weight_of = trace_weights(reader, trace_ids, ever_sampled)
    for tid, spans in zip(trace_ids, traces_of(table), strict=True):
        path = trace_critical_path(spans)  # the one timeline: skew corrected, async work kept
        if path:
            paths.append(path)
            durations.append(sum(seg.self_time_ns for seg in path))
            weights.append(weight_of.get(tid, 1.0))
    return PathSample(paths, durations, weights, ever_sampled)


def predicted_duration(path: Sequence[PathSegment], change: WhatIf) -> int:
    """The path's length after the change: each matching span's own time on the path shrinks by the
    given amount (never below zero) or fraction.

    First-order model: the rest of the path is assumed to stay critical, so when a parallel branch
    would take over, the real gain is smaller than predicted.
    """
    on_path: dict[str, int] = defaultdict(int)
    for seg in path:
        if change.matches(seg.span.service_name, seg.span.span_name):
            on_path[seg.span.span_id] += seg.self_time_ns
    saved = 0
    for self_time in on_path.values():
        if change.minus_ns is not None:
            saved += min(change.minus_ns, self_time)
        else:
            saved += int(self_time * (change.fraction or 0.0))
    return sum(seg.self_time_ns for seg in path) - saved


def analyze_latency(reader: AnalyticsReader, flt: AnalysisFilter, what_if: WhatIf | None = None,
                    max_traces: int = DEFAULT_SAMPLE, table: pa.Table | None = None) -> Report:
    """`table`: a sample the caller already holds (doctor's window sample; see sample_paths). The
    note on tail-sampled data then needs a scan of the window's spans only when that sample holds a
    tail-sampled trace (doctor at 1M traces: 0.3 s saved)."""
    sample = sample_paths(reader, flt, max_traces, table)
    n = len(sample.paths)
    per_op: dict[tuple[str, str], list[int]] = defaultdict(list)
    weighted: dict[tuple[str, str], float] = defaultdict(float)   # shares count each trace by its weight
    for path, weight in zip(sample.paths, sample.weights, strict=True):
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for seg in path:
            totals[(seg.span.service_name, seg.span.span_name)] += seg.self_time_ns
        for key, value in totals.items():
            per_op[key].append(value)
            weighted[key] += weight * value
    grand = sum(w * d for w, d in zip(sample.weights, sample.durations, strict=True))
    rows: list[dict[str, Any]] = [{
        "service": svc, "operation": op,
        "share": 100 * weighted[(svc, op)] / grand if grand else 0.0,
        "p50_ms": quantile(values, 0.5) / 1e6, "p95_ms": quantile(values, 0.95) / 1e6,
        "traces": len(values), "in_traces": 100 * len(values) / n if n else 0.0,
    } for (svc, op), values in per_op.items()]
    rows.sort(key=lambda r: (-r["share"], r["service"], r["operation"]))
    p50 = quantile(sample.durations, 0.5) / 1e6
    p95 = quantile(sample.durations, 0.95) / 1e6
    findings = []
    if rows:
        top = rows[0]
        findings.append(f"{top['service']}:{top['operation']} is {top['share']:.0f}% of the time requests "
                        f"wait for (its own time on the critical path; p50 {top['p50_ms']:,.1f} ms, "
                        f"p95 {top['p95_ms']:,.1f} ms).")
        findings.append(f"End to end over {n:,} traces: p50 {p50:,.1f} ms, p95 {p95:,.1f} ms.")
    else:
        findings.append("No traces in this window.")
    params: dict[str, object] = {"sampled_traces": n, "root_p50_ms": p50, "root_p95_ms": p95}
    if what_if is not None:
        predicted = [predicted_duration(path, what_if) for path in sample.paths]
        new_p50, new_p95 = quantile(predicted, 0.5) / 1e6, quantile(predicted, 0.95) / 1e6
        params |= {"what_if": what_if.describe(), "predicted_p50_ms": new_p50, "predicted_p95_ms": new_p95}
        findings.append(f"What if {what_if.describe()}: p50 {p50:,.1f} -> {new_p50:,.1f} ms, "
                        f"p95 {p95:,.1f} -> {new_p95:,.1f} ms (predicted from the critical paths).")
    columns = [Column("service", "service", TEXT), Column("operation", "operation", TEXT),
               Column("share", "share of latency", PERCENT), Column("p50_ms", "p50 self ms", MS),
               Column("p95_ms", "p95 self ms", MS), Column("in_traces", "on path in", PERCENT),
               Column("traces", "traces", COUNT)]
    notes = [f"critical paths of {n:,} traces (a fixed sample of at most {max_traces:,})"]
    if what_if is not None:
        notes.append("what-if assumes the rest of each critical path stays critical")
    may_be_sampled = table is None or any(w != 1.0 for w in sample.weights)
    sampled = sampled_counts(reader, flt, sample.ever_sampled) if may_be_sampled else None
    if sampled is not None:   # tail-sampled data: say so; quantiles over kept traces lean slow
        params["estimated_requests"] = round(sampled.est_traces)
        notes.append(sampled.note() + "; quantiles are over stored traces, where slow ones are over-represented")
    return Report("latency", "Critical-path latency by service and operation", findings, columns, rows,
                  params=params, notes=notes)
