"""`tracehouse doctor`: the window against a baseline in time (tracehouse.analytics.diagnosis), with
the window's critical path as context. Picks the window and the baseline when not given, and says
which it picked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tracehouse.analytics.causes import Diagnosis
from tracehouse.analytics.diagnosis import MIN_SUPPORT, Sides, diagnose, trace_facts
from tracehouse.analytics.latency import analyze_latency
from tracehouse.analytics.report import COUNT, MS, PERCENT, TEXT, TRACE, Column, Report
from tracehouse.store import AnalysisFilter, AnalyticsReader

DEFAULT_SAMPLE = 2_000          # traces per side: enough for a 5% tail, and keeps doctor within 2 s
CONTEXT_SAMPLE = 1_000          # critical paths of the window, for "where requests wait"
SLOW_SHARE = 0.05               # the within-window split when there is no baseline


@dataclass(frozen=True)
class BaselineSpec:
    """How the user asked for a baseline: explicit bounds, a length before the window, or neither."""

    start_ns: int | None = None
    end_ns: int | None = None
    length_ns: int | None = None


def _fmt_ns(ns: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_len(ns: int) -> str:
    seconds = ns / 1e9
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _with_window(flt: AnalysisFilter, start: int, end: int) -> AnalysisFilter:
    return AnalysisFilter(start, end, flt.service, flt.operation, dict(flt.attributes), flt.reconstructed)


def plan(reader: AnalyticsReader, flt: AnalysisFilter,
         spec: BaselineSpec) -> tuple[AnalysisFilter | None, AnalysisFilter | None, str, list[str]]:
    """The window's and the baseline's filters, and how the baseline was chosen (in words)."""
    count, first, last = reader.trace_times(flt)
    if count == 0 or first is None or last is None:
        return None, None, "", []
    start, end = flt.start_ns, flt.end_ns
    how_window = ""
    if start is None and end is None:
        # No window: the last third of what is stored, against the two thirds before.
        span = last - first + 1
        start, end = first + (2 * span) // 3, last + 1
        how_window = "no window given: the window is the last third of the stored traces; "
        if spec.start_ns is None and spec.length_ns is None:
            baseline = _with_window(flt, first, start)
            return (_with_window(flt, start, end), baseline,
                    how_window + f"the baseline is the two thirds before it ({_fmt_ns(first)} to {_fmt_ns(start)})",
                    [])
    if start is None:
        start = first
    if end is None:
        end = last + 1
    if spec.start_ns is not None:
        b_start, b_end = spec.start_ns, spec.end_ns if spec.end_ns is not None else start
        how = f"the baseline given: {_fmt_ns(b_start)} to {_fmt_ns(b_end)}"
    else:
        length = spec.length_ns if spec.length_ns is not None else end - start
        b_start, b_end = start - length, start
        how = (f"the baseline is the {_fmt_len(length)} before the window ({_fmt_ns(b_start)} to {_fmt_ns(b_end)})"
               + ("" if spec.length_ns is not None else ", the window's own length"))
    notes = []
    if b_end > start and b_start < end:
        notes.append("the baseline overlaps the window: changes inside the overlap are diluted")
    if b_end <= b_start:
        return _with_window(flt, start, end), None, how_window + "the baseline given is empty", notes
    return _with_window(flt, start, end), _with_window(flt, b_start, b_end), how_window + how, notes


def run_doctor(reader: AnalyticsReader, flt: AnalysisFilter, spec: BaselineSpec | None = None,
               max_traces: int = DEFAULT_SAMPLE) -> Diagnosis:
    return _run(reader, flt, spec, max_traces, with_context=False)[0]


def _run(reader: AnalyticsReader, flt: AnalysisFilter, spec: BaselineSpec | None, max_traces: int,
         with_context: bool) -> tuple[Diagnosis, Report | None]:
    """The diagnosis, and with_context: the window's critical paths, from the window's sample.

    The store's reads (the window's sample and count, then the baseline's sample and count) run one
    after another on a worker thread, while this thread works out the window's facts and critical
    paths: the store computes (in its own threads, or in the ClickHouse server) while Python
    computes. One read at a time: each of the embedded store's reads uses every core already, and
    on ClickHouse two side by side slowed each other about 2x on 2 cores (docs/clickhouse.md). If a
    read or this thread's work fails, the reads still queued are cancelled, the one running is
    waited for, and the error is raised here."""
    window, baseline, how, notes = plan(reader, flt, spec or BaselineSpec())
    if window is None:
        diagnosis = diagnose(Sides([], [], (flt.start_ns, flt.end_ns), (None, None), "", []))
        return diagnosis, _window_context(reader, flt, None) if with_context else None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="doctor-reads") as reads:
        window_read = reads.submit(reader.cause_sample, window, max_traces)
        window_count = reads.submit(lambda: reader.trace_times(window)[0])
        base_read = reads.submit(_sample_and_count, reader, baseline, max_traces) if baseline is not None else None
        try:
            window_sample = window_read.result()
            inc = trace_facts(window_sample)
            context = _window_context(reader, window, window_sample) if with_context else None
            n_window = window_count.result()
            base_sample, n_base = base_read.result() if base_read is not None else (None, 0)
        except BaseException:
            reads.shutdown(wait=True, cancel_futures=True)   # no read left running on the store
            raise
    base = trace_facts(base_sample) if base_sample is not None else []
    if n_window > len(inc) or n_base > len(base):
        notes.append(f"a fixed sample of {len(inc):,} of the window's {n_window:,} traces and {len(base):,} of "
                     f"the baseline's {n_base:,} (the same sample every time)")
    b_window = (baseline.start_ns, baseline.end_ns) if baseline is not None else (None, None)
    if len(base) < MIN_SUPPORT and len(inc) >= 2 * MIN_SUPPORT:
        # Nothing to compare with in time: the slowest requests against the others, as one signal.
        ordered = sorted(inc, key=lambda t: (t.duration_ns, t.trace_id))
        cut = max(MIN_SUPPORT, int(len(ordered) * SLOW_SHARE))
        base, inc = ordered[:-cut], ordered[-cut:]
        how = (f"too few traces before the window ({n_base:,}) for a baseline in time: the slowest "
               f"{SLOW_SHARE:.0%} of the window's requests against its other {1 - SLOW_SHARE:.0%}")
        b_window = (window.start_ns, window.end_ns)
    diagnosis = diagnose(Sides(inc, base, (window.start_ns, window.end_ns), b_window, how, notes))
    return diagnosis, context


def _window_context(reader: AnalyticsReader, window: AnalysisFilter, window_sample: pa.Table | None) -> Report | None:
    """The window's critical paths ("where requests wait"); None when the window has no start (no
    window given and nothing stored to pick one from). From `window_sample` when the window's sample
    is read already (cause_sample has trace_sample's columns): a second sample of the window cost
    0.25 s at 1M traces."""
    if window.start_ns is None:
        return None
    return analyze_latency(reader, window, max_traces=CONTEXT_SAMPLE, table=window_sample)


def _sample_and_count(reader: AnalyticsReader, flt: AnalysisFilter, max_traces: int) -> tuple[pa.Table, int]:
    return reader.cause_sample(flt, max_traces), reader.trace_times(flt)[0]


def doctor_report(diagnosis: Diagnosis, context: Report | None = None) -> Report:
    """The diagnosis as a Report, so it travels like the other analyses (JSON, UI, --url): one row
    per cause, and the whole Diagnosis in params['diagnosis'] for the front ends to rebuild."""
    rows: list[dict[str, Any]] = []
    for c in diagnosis.causes:
        e = c.effect
        rows.append({
            "rank": c.rank, "kind": c.kind, "location": c.location.label(),
            "segment": c.segment.label() if c.segment else "",
            "added_p50_ms": e.added_p50_ms if c.kind == "slower" else None,
            "added_p95_ms": e.added_p95_ms if c.kind == "slower" else None,
            "share": 100 * e.share_affected,
            "errors": (f"{e.error_rate_before:.1%} -> {e.error_rate_after:.1%}" if c.kind == "errors" else
                       f"calls {e.calls_before:g} -> {e.calls_after:g}" if c.kind == "repeated calls" else ""),
            "impact_ms": e.impact_ms,
            "traces": f"{c.support.incident_traces:,} / {c.support.baseline_traces:,}",
            "q_value": f"{c.q_value:.1e}", "example_trace_id": c.example_trace_id,
        })
    columns = [Column("rank", "#", COUNT), Column("kind", "what", TEXT), Column("location", "where", TEXT),
               Column("segment", "for whom", TEXT), Column("added_p50_ms", "+p50 ms", MS),
               Column("added_p95_ms", "+p95 ms", MS), Column("share", "affected", PERCENT),
               Column("errors", "errors/calls", TEXT), Column("impact_ms", "ms per request", MS),
               Column("traces", "traces (window / baseline)", TEXT), Column("q_value", "q", TEXT),
               Column("example_trace_id", "example trace", TRACE)]
    findings = [diagnosis.verdict] + [c.summary for c in diagnosis.causes[1:]]
    params: dict[str, Any] = {"diagnosis": diagnosis.to_json()}
    notes = [f"baseline: {diagnosis.baseline_how}"] if diagnosis.baseline_how else []
    notes += [f"looked at: {item}" for item in diagnosis.looked_at] + diagnosis.notes
    if context is not None:
        params["context"] = {"title": "Where requests wait (critical path)",
                             "findings": context.findings, "notes": context.notes}
    return Report("doctor", "tracehouse doctor", findings, columns, rows, params=params, notes=notes)


def doctor(reader: AnalyticsReader, flt: AnalysisFilter, spec: BaselineSpec | None = None,
           max_traces: int = DEFAULT_SAMPLE) -> Report:
    diagnosis, context = _run(reader, flt, spec, max_traces, with_context=True)
    return doctor_report(diagnosis, context)
