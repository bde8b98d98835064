"""Structural diff of two traces: which calls were added, removed, or got slower or faster.

Spans are matched by their place in the call tree: the chain of (service, operation) from the
root down to the span, plus the span's position among same-named siblings (the 2nd "GET" of
hub:handle). That survives different ids and clock offsets between the two traces, which a
comparison by span id could not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracehouse.query.spans import Span
from tracehouse.query.trace_view import tree_order

# A change smaller than both of these is noise, not "slower" or "faster".
MIN_CHANGE_NS = 1_000_000
MIN_CHANGE_RATIO = 0.10


def _placed(spans: Sequence[Span]) -> dict[tuple[tuple[str, str, int], ...], Span]:
    order, depth, _orphan = tree_order(spans)
    placed: dict[tuple[tuple[str, str, int], ...], Span] = {}
    path: list[tuple[str, str, int]] = []
    # Occurrence counters per parent path and (service, operation).
    seen: dict[tuple[tuple[tuple[str, str, int], ...], str, str], int] = {}
    for i in order:
        span = spans[i]
        del path[depth[i]:]
        parent = tuple(path)
        n = seen.get((parent, span.service_name, span.span_name), 0)
        seen[(parent, span.service_name, span.span_name)] = n + 1
        path.append((span.service_name, span.span_name, n))
        placed[tuple(path)] = span
    return placed


def _change(a: int, b: int) -> str:
    delta = b - a
    if abs(delta) < MIN_CHANGE_NS or abs(delta) < MIN_CHANGE_RATIO * max(a, 1):
        return "same"
    return "slower" if delta > 0 else "faster"


def compare_traces(a: Sequence[Span], b: Sequence[Span]) -> dict[str, Any]:
    """Rows of the merged call tree (in tree order) and a summary by service and operation."""
    placed_a, placed_b = _placed(a), _placed(b)
    keys = list(placed_a)
    keys += [k for k in placed_b if k not in placed_a]
    # Tree order of the merged tree: sort by path, with each level ordered by first appearance.
    first_seen = {k: i for i, k in enumerate(keys)}
    rank: dict[tuple[tuple[str, str, int], ...], tuple[int, ...]] = {}
    for k in keys:
        rank[k] = tuple(first_seen.get(k[:n], 0) for n in range(1, len(k) + 1))
    keys.sort(key=lambda k: rank[k])
    rows = []
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for k in keys:
        sa, sb = placed_a.get(k), placed_b.get(k)
        if sa is not None and sb is not None:
            change = _change(sa.duration_ns, sb.duration_ns)
        else:
            change = "added" if sa is None else "removed"
        service, operation, _n = k[-1]
        rows.append({
            "depth": len(k) - 1, "service": service, "operation": operation, "change": change,
            "a": {"spanId": sa.span_id, "duration": sa.duration_ns, "error": sa.status_code == "ERROR"}
            if sa else None,
            "b": {"spanId": sb.span_id, "duration": sb.duration_ns, "error": sb.status_code == "ERROR"}
            if sb else None,
        })
        entry = summary.setdefault((service, operation), {
            "service": service, "operation": operation, "countA": 0, "countB": 0, "durationA": 0,
            "durationB": 0, "added": 0, "removed": 0, "slower": 0, "faster": 0, "same": 0})
        entry[change] += 1
        if sa:
            entry["countA"] += 1
            entry["durationA"] += sa.duration_ns
        if sb:
            entry["countB"] += 1
            entry["durationB"] += sb.duration_ns
    totals = {c: sum(1 for r in rows if r["change"] == c) for c in ("added", "removed", "slower", "faster", "same")}
    return {
        "a": {"traceId": a[0].trace_id if a else "", "spans": len(a)},
        "b": {"traceId": b[0].trace_id if b else "", "spans": len(b)},
        "totals": totals,
        "rows": rows,
        "byOperation": sorted(summary.values(), key=lambda e: (e["service"], e["operation"])),
    }
