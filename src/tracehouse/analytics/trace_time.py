"""The one definition of a trace's timeline: clock skew corrected, async work kept (ADR 10).

Every analysis that needs a trace's duration or critical path computed in Python goes through
`timeline()` first:

1. Clock skew. Spans of one service share a clock; spans of different services do not. A child in
   another service that is called synchronously (anything but a CONSUMER, or a child of a PRODUCER)
   must lie inside its parent. When it does not, its whole subtree is shifted to sit centred in the
   parent (the network time split evenly both ways), as Jaeger's clock-skew adjuster does. Durations
   are never changed: each is measured on one clock, so it is the one number skew cannot touch.
   The shifts are returned, so a report can say "cart's clock is 400 ms ahead (corrected)".
2. Async work. A CONSUMER (or any child of a PRODUCER) may run after its producer, and even after
   the request answered. It is not clipped or dropped: the producer and its ancestors are extended
   to its end, so the trace's duration covers the work the request caused, and the wait between
   PRODUCER and CONSUMER (queue time) appears on the critical path as the producer's own time.

A trace's duration is then the root's extended duration. Self times and the CLIENT->SERVER gap
(doctor) are computed from durations, which makes them skew-proof as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from tracehouse.analytics.critical_path import PathSegment, SpanTiming, critical_path, find_root

ASYNC_CHILD_KINDS = ("CONSUMER",)


def is_async(child: SpanTiming, parent: SpanTiming) -> bool:
    return child.kind in ASYNC_CHILD_KINDS or parent.kind == "PRODUCER"


def timeline(spans: Sequence[SpanTiming]) -> tuple[list[SpanTiming], dict[str, int]]:
    """The spans with skew corrected and async work kept (see the module docstring), and the shift
    applied to each service's spans that needed one (ns; the first seen per service)."""
    root = find_root(spans)
    if root is None:
        return [], {}
    by_id: dict[str, SpanTiming] = {}
    children: dict[str, list[SpanTiming]] = defaultdict(list)
    for s in spans:
        if s.span_id in by_id:
            continue
        by_id[s.span_id] = s
        if s.parent_span_id is not None and s.parent_span_id != s.span_id:
            children[s.parent_span_id].append(s)
    shifts: dict[str, int] = {}
    out: dict[str, SpanTiming] = {root.span_id: root}
    parent_of: dict[str, str] = {}
    pending: list[tuple[SpanTiming, int]] = [(root, 0)]
    while pending:
        parent, offset = pending.pop()
        placed_parent = out[parent.span_id]
        for child in children.get(parent.span_id, ()):
            if child.span_id in out:
                continue
            shift = offset
            start, end = child.start_ns + shift, child.end_ns + shift
            if child.service_name != parent.service_name and not is_async(child, parent):
                p_start, p_end = placed_parent.start_ns, placed_parent.end_ns
                if start < p_start or end > p_end:
                    duration, room = end - start, p_end - p_start
                    delta = (p_start + (room - duration) // 2 - start) if duration <= room else p_start - start
                    shift += delta
                    shifts.setdefault(child.service_name, shift)
            placed = child if shift == 0 else replace(child, start_ns=child.start_ns + shift,
                                                      end_ns=child.end_ns + shift)
            out[child.span_id] = placed
            parent_of[child.span_id] = parent.span_id
            pending.append((child, shift))
    # Async work: each ancestor of an async child is extended to the end of the child's subtree.
    late = [i for i, up in parent_of.items() if is_async(out[i], out[up])]
    if late:
        subtree_end = {i: s.end_ns for i, s in out.items()}
        for span_id in sorted(out, key=lambda i: _depth(i, parent_of), reverse=True):
            up_id = parent_of.get(span_id)
            if up_id is not None:
                subtree_end[up_id] = max(subtree_end[up_id], subtree_end[span_id])
        for span_id in late:
            end = subtree_end[span_id]
            up: str | None = parent_of[span_id]
            while up is not None and out[up].end_ns < end:
                out[up] = replace(out[up], end_ns=end)
                up = parent_of.get(up)
    return list(out.values()), shifts


def _depth(span_id: str, parent_of: dict[str, str]) -> int:
    depth = 0
    while span_id in parent_of:
        span_id = parent_of[span_id]
        depth += 1
    return depth


def trace_duration(spans: Sequence[SpanTiming]) -> int:
    """The trace's duration: from the root's start to the end of the last work it caused (ns)."""
    placed, _ = timeline(spans)
    root = find_root(placed)
    return 0 if root is None else max(0, root.end_ns - root.start_ns)


def trace_critical_path(spans: Sequence[SpanTiming]) -> list[PathSegment]:
    """The critical path over the trace's timeline; its self times add up to `trace_duration`."""
    placed, _ = timeline(spans)
    return critical_path(placed)
