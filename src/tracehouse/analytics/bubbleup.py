"""`analyze compare`: which attribute values mark the slow (or erroring) traces, as BubbleUp does."""

from __future__ import annotations

from tracehouse.analytics.report import COUNT, PERCENT, TEXT, Column, Report
from tracehouse.store import AnalysisFilter, AnalyticsReader, Selection

# Traces read on each side (the lowest trace hashes): every value of ~10 span attributes of 20,000
# traces a side of ~11 spans did not fit the store's 128 MB at 1M traces (bench/scale_bench.py).
MAX_TRACES_PER_SIDE = 2_000
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
    rows = reader.attribute_contrast(flt, selection, max_traces).to_pylist()
    what = describe(selection)
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
    shown = out[:max_rows] if max_rows is not None else out
    return Report("compare", f"What marks the {what}", findings, columns, shown,
                  notes=notes)
