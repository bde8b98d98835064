"""`analyze paths`: which routes requests take, and which routes the slowest requests take."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa

from tracehouse.analytics.report import COUNT, MS, PERCENT, TEXT, TRACE, Column, Report
from tracehouse.store import AnalysisFilter, AnalyticsReader, SpanReader

MAX_ROUTES = 50


def route_text(spans: pa.Table) -> str:
    """One trace's call tree as indented 'service:operation' lines; identical siblings fold into
    one line with a count ('x2'), so a route reads the same whatever the order calls were made in."""
    rows = spans.select(["span_id", "parent_span_id", "service_name", "span_name"]).to_pylist()
    ids = {r["span_id"] for r in rows}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        parent = r["parent_span_id"] if r["parent_span_id"] in ids else None
        children[parent].append(r)

    def lines(parent: str | None, depth: int) -> list[str]:
        rendered = [(f"{c['service_name']}:{c['span_name']}", lines(c["span_id"], depth + 1)) for c in children[parent]]
        folded = Counter(( label, tuple(sub)) for label, sub in rendered)
        out: list[str] = []
        for (label, sub), n in sorted(folded.items()):
            out.append("  " * depth + label + (f" x{n}" if n > 1 else ""))
            out.extend(sub)
        return out

    return "\n".join(lines(None, 0))


def analyze_paths(reader: AnalyticsReader, spans: SpanReader, flt: AnalysisFilter,
                  slowest_fraction: float | None = None, sample: int | None = None) -> Report:
    """Routes of the selected traces; with `sample`, of a fixed sample of about that many (the
    store's choice, the same every time), which the report's notes state."""
    table = reader.route_stats(flt, slowest_fraction, sample)
    every_route = table.to_pylist()
    rows = every_route[:MAX_ROUTES]
    total = sum(int(r["traces"]) for r in every_route)
    total_slow = sum(int(r["slow_traces"]) for r in every_route)
    examples = [r["example_trace_id"] for r in rows]
    example_spans = spans.get_spans(examples) if examples else None
    out = []
    for r in rows:
        text = ""
        if example_spans is not None:
            mask = pa.compute.equal(example_spans.column("trace_id"), r["example_trace_id"])
            text = route_text(example_spans.filter(mask))
        share = 100 * r["traces"] / total if total else 0.0
        row: dict[str, Any] = {
            "route": text, "traces": r["traces"], "share": share,
            "p50_ms": r["p50_ns"] / 1e6, "p95_ms": r["p95_ns"] / 1e6, "p99_ms": r["p99_ns"] / 1e6,
            "error_rate": 100 * r["error_traces"] / r["traces"], "example_trace_id": r["example_trace_id"],
        }
        if slowest_fraction is not None:
            row["slow_share"] = 100 * r["slow_traces"] / total_slow if total_slow else 0.0
            row["difference"] = row["slow_share"] - share
        out.append(row)
    columns = [Column("route", "route", TEXT), Column("traces", "traces", COUNT), Column("share", "share", PERCENT)]
    findings: list[str] = []
    if slowest_fraction is not None:
        out.sort(key=lambda r: -r["difference"])
        columns += [Column("slow_share", f"share of slowest {slowest_fraction * 100:g}%", PERCENT),
                    Column("difference", "difference", PERCENT)]
        threshold = table.column("slow_threshold_ns")[0].as_py() if table.num_rows else None
        if out and threshold is not None:
            top = out[0]
            findings.append(
                f"The slowest {slowest_fraction * 100:g}% of requests (at least {threshold / 1e6:,.1f} ms) took "
                f"route {_one_line(top['route'])} {top['slow_share']:.0f}% of the time, against "
                f"{top['share']:.0f}% for all requests.")
    elif out:
        findings.append(f"{len(table)} routes over {total:,} traces; the most common, "
                        f"{_one_line(out[0]['route'])}, carries {out[0]['share']:.0f}% of them.")
    columns += [Column("p50_ms", "p50 ms", MS), Column("p95_ms", "p95 ms", MS), Column("p99_ms", "p99 ms", MS),
                Column("error_rate", "errors", PERCENT), Column("example_trace_id", "example trace", TRACE)]
    notes = [f"showing the first {MAX_ROUTES} of {len(table)} routes"] if len(table) > MAX_ROUTES else []
    selected = every_route[0]["selected_traces"] if every_route else 0
    if total < selected:
        notes.append(f"routes of a fixed sample of {total:,} of the {selected:,} traces "
                     f"(the same sample every time; sample={sample})")
    return Report("paths", "Routes", findings, columns, out, notes=notes)


def _one_line(route: str) -> str:
    """A route's tree on one line: its distinct lines joined by ' / ', for sentences."""
    return "[" + " / ".join(line.strip() for line in route.splitlines()) + "]"
