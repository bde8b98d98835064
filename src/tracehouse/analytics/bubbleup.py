"""`analyze compare`: which attribute values mark the slow (or erroring) traces, as BubbleUp does."""

from __future__ import annotations

from typing import Any

from tracehouse.analytics.report import COUNT, PERCENT, TEXT, Column, Report
from tracehouse.analytics.trace_time import slow_threshold, trace_times
from tracehouse.store import AnalysisFilter, AnalyticsReader, Selection

# Traces read on each side (the lowest trace hashes, or the first ids of the sides chosen): turning
# their spans' attributes into JSON to unnest costs ~10 us a span (bench/scale_bench.py: 5,000 a
# side of ~11 spans took 1.4 s of the 2 s budget at 1M traces; 20,000 did not fit 128 MB).
MAX_TRACES_PER_SIDE = 1_000
# A selection by duration measures each trace by the one trace duration (trace_time.trace_times) over
# a fixed sample of this many traces (the store's trace_sample), whose slowest are the selection and
# the others the baseline: 8,000 traces of the last hour at 1M traces cost ~0.4 s of CPU to read and
# place, and give 400 traces for a slowest 5%.
TIMING_SAMPLE = 8_000
MAX_ROWS = 30


def describe(selection: Selection) -> str:
    if selection.errors:
        return "erroring traces"
    if selection.min_duration_ns is not None:
        return f"traces of at least {selection.min_duration_ns / 1e6:,.1f} ms"
    return f"slowest {(selection.slowest_fraction or 0) * 100:g}% of traces"


def analyze_compare(reader: AnalyticsReader, flt: AnalysisFilter, selection: Selection,
                    max_traces: int = MAX_TRACES_PER_SIDE, max_rows: int | None = MAX_ROWS) -> Report:
    """The attribute values ranked by over-representation in the selection; the first `max_rows`
    (None: all, which a comparison against a baseline ranks again before cutting)."""
    what = describe(selection)
    timing_note = None
    threshold: int | None = None
    if selection.slowest_fraction is not None or selection.min_duration_ns is not None:
        selection, threshold, timing_note = _by_duration(reader, flt, selection, max_traces)
    rows = reader.attribute_contrast(flt, selection, max_traces).to_pylist()
    out = []
    for r in rows:
        selected_pct = 100 * r["selected"] / r["selected_total"] if r["selected_total"] else 0.0
        baseline_pct = 100 * r["baseline"] / r["baseline_total"] if r["baseline_total"] else 0.0
        out.append({"attribute": f"{r['key']}={r['value']}", "scope": r["scope"], "key": r["key"], "value": r["value"],
                    "selected_pct": selected_pct, "baseline_pct": baseline_pct,
                    "difference": selected_pct - baseline_pct, "selected": r["selected"], "baseline": r["baseline"]})
    # Over-represented first; ties broken by name so every caller sees the same order.
    out.sort(key=lambda r: (-r["difference"], r["attribute"], r["scope"]))
    findings = []
    sel_total = rows[0]["selected_total"] if rows else 0
    base_total = rows[0]["baseline_total"] if rows else 0
    if out and out[0]["difference"] > 0:
        top = out[0]
        findings.append(f"{top['attribute']} ({top['scope']}) is on {top['selected_pct']:.0f}% of the {what}, "
                        f"against {top['baseline_pct']:.0f}% of the others.")
    elif not sel_total:
        findings.append(f"No {what} in this window.")
    else:
        findings.append(f"No attribute value stands out in the {what}.")
    columns = [Column("attribute", "attribute", TEXT), Column("scope", "scope", TEXT),
               Column("selected_pct", "in selection", PERCENT), Column("baseline_pct", "in the others", PERCENT),
               Column("difference", "difference", PERCENT), Column("selected", "selected traces", COUNT),
               Column("baseline", "other traces", COUNT)]
    notes = [f"selection: {sel_total:,} {what}; baseline: {base_total:,} other traces"
             + (f" (each side sampled to at most {max_traces:,})" if max(sel_total, base_total) >= max_traces else "")]
    if timing_note:
        notes.append(timing_note)
    params: dict[str, Any] = {} if threshold is None else {"threshold_ms": threshold / 1e6}
    shown = out[:max_rows] if max_rows is not None else out
    return Report("compare", f"What marks the {what}", findings, columns, shown, params=params, notes=notes)


def _by_duration(reader: AnalyticsReader, flt: AnalysisFilter, selection: Selection,
                 max_traces: int) -> tuple[Selection, int | None, str | None]:
    """The sides of a selection by duration, each trace measured by the one trace duration (clock
    skew corrected, async work kept: trace_time) over the store's fixed sample: the traces at or
    above the threshold (the duration at rank floor((n - 1) * (1 - fraction)), or the minimum
    given), against the others. Each side: its first max_traces by trace id. Also the threshold,
    and a note when the sample is not every selected trace."""
    times = trace_times(reader.trace_sample(flt, TIMING_SAMPLE))
    count = len(times.trace_ids)
    if count == 0:
        return Selection(traces=(), others=()), None, None
    if selection.min_duration_ns is not None:
        threshold = int(selection.min_duration_ns)
    else:
        threshold = slow_threshold(times.duration_ns, selection.slowest_fraction or 0.05)
    slow = [d >= threshold for d in times.duration_ns]
    chosen = tuple(sorted(t for t, s in zip(times.trace_ids, slow, strict=True) if s)[:max_traces])
    others = tuple(sorted(t for t, s in zip(times.trace_ids, slow, strict=True) if not s)[:max_traces])
    note = None
    if count >= TIMING_SAMPLE:
        note = (f"sides chosen by trace duration among a fixed sample of {count:,} of the "
                f"{reader.count_traces(flt):,} traces (the same sample every time)")
    return Selection(traces=chosen, others=others), threshold, note
