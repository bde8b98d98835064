"""Error hot spots: where errors start (own errors), per service, operation and version."""

from __future__ import annotations

from tracehouse.analytics.report import COUNT, PERCENT, TEXT, TRACE, Column, Report
from tracehouse.analytics.sampled import sampled_counts
from tracehouse.store import AnalysisFilter, AnalyticsReader

MAX_ROWS = 20


def analyze_errors(reader: AnalyticsReader, flt: AnalysisFilter) -> Report:
    rows = [{
        "service": r["service"], "operation": r["operation"], "version": r["version"] or "",
        "own_errors": r["own_error_spans"], "errors": r["error_spans"], "spans": r["spans"],
        "error_rate": 100 * r["error_spans"] / r["spans"], "example_trace_id": r["example_trace_id"],
    } for r in reader.error_hotspots(flt).to_pylist()[:MAX_ROWS]]
    findings = []
    if rows:
        top = rows[0]
        version = f" {top['version']}" if top["version"] else ""
        findings.append(f"Errors start most often in {top['service']}{version} ({top['operation']}): "
                        f"{top['own_errors']:,} errors of its own, {top['error_rate']:.1f}% of its spans.")
    else:
        findings.append("No errors in this window.")
    columns = [Column("service", "service", TEXT), Column("version", "version", TEXT),
               Column("operation", "operation", TEXT), Column("own_errors", "own errors", COUNT),
               Column("errors", "errors", COUNT), Column("error_rate", "error rate", PERCENT),
               Column("example_trace_id", "example trace", TRACE)]
    notes = ["own errors: failed spans none of whose children failed (where errors start)"]
    sampled = sampled_counts(reader, flt)
    if sampled is not None:   # tail-sampled data: say so, and add estimated real counts
        columns[-1:-1] = sampled.add_error_estimates(rows)
        notes.append(sampled.note())
    return Report("errors", "Error hot spots", findings, columns, rows, notes=notes)
