"""`analyze origins SERVICE`: where the calls into a service come from."""

from __future__ import annotations

from collections import defaultdict

from tracehouse.analytics.report import COUNT, MS, PERCENT, TEXT, TRACE, Column, Report
from tracehouse.store import AnalysisFilter, AnalyticsReader

# Past this many selected traces, origins groups the calls of a fixed sample of about this many (the
# store's lowest trace hashes) and says so in a note: every call into a busy service over an hour at
# 1M traces / 11M spans cost ~1.5 s of CPU (a scan of the window per level of the climb).
DEFAULT_SAMPLE = 20_000


def analyze_origins(reader: AnalyticsReader, flt: AnalysisFilter, service: str, operation: str | None = None,
                    sample: int = DEFAULT_SAMPLE) -> Report:
    selected = reader.count_traces(flt)
    sampled = selected > sample
    # max_traces only when it samples: a store that predates it still answers the small windows
    table = reader.origin_stats(flt, service, operation, max_traces=sample) if sampled else \
        reader.origin_stats(flt, service, operation)
    rows = table.to_pylist()
    total = sum(int(r["calls"]) for r in rows)
    by_entry: dict[str, int] = defaultdict(int)
    for r in rows:
        by_entry[r["entry"]] += int(r["calls"])
    out = [{
        "entry": r["entry"], "chain": r["chain"] or "(the request itself)", "operation": r["operation"],
        "calls": r["calls"], "share": 100 * r["calls"] / total if total else 0.0,
        "p50_ms": r["p50_ns"] / 1e6, "p95_ms": r["p95_ns"] / 1e6,
        "error_rate": 100 * r["error_calls"] / r["calls"], "example_trace_id": r["example_trace_id"],
    } for r in rows]
    target = service + (f":{operation}" if operation else "")
    findings = []
    if total:
        entries = sorted(by_entry.items(), key=lambda kv: (-kv[1], kv[0]))
        top, n = entries[0]
        findings.append(f"{n / total:.0%} of the {total:,} calls into {target} come from requests entering at {top}.")
        if out:
            findings.append(f"The busiest chain is {out[0]['chain']} -> {target}:{out[0]['operation']} "
                            f"({out[0]['share']:.0f}% of calls, p95 {out[0]['p95_ms']:,.1f} ms).")
    else:
        findings.append(f"No calls into {target} in this window.")
    columns = [Column("entry", "entry point", TEXT), Column("chain", "upstream chain", TEXT),
               Column("operation", "operation", TEXT), Column("calls", "calls", COUNT),
               Column("share", "share", PERCENT), Column("p50_ms", "p50 ms", MS), Column("p95_ms", "p95 ms", MS),
               Column("error_rate", "errors", PERCENT), Column("example_trace_id", "example trace", TRACE)]
    notes = [f"calls of a fixed sample of about {sample:,} of the {selected:,} traces (the same sample every "
             f"time; sample={sample}): counts are the sample's, shares and latencies estimate the whole"] \
        if sampled else []
    return Report("origins", f"Where calls into {target} come from", findings, columns, out,
                  params={"service": service, "operation": operation}, notes=notes)
