"""The one definition of a trace's timeline, duration and critical path (ADR 13).

Every analysis that measures a trace in Python goes through `place()` (doctor directly, on plain
lists; latency and the trace view through `timeline()`):

1. Clock skew. Spans of one service share a clock; spans of different services do not. A child in
   another service that is called synchronously (anything but a CONSUMER, or a child of a PRODUCER)
   must lie inside its parent. When it does not, its whole subtree is shifted to sit centred in the
   parent (the network time split evenly both ways), as Jaeger's clock-skew adjuster does. Durations
   are never changed: each is measured on one clock, so it is the one number skew cannot touch.
   The shifts are returned, so a report can say "cart's clock is 400 ms ahead (corrected)".
2. Async work and late children. A CONSUMER (or any child of a PRODUCER) may start after its
   producer ended, even after the request answered; a callee may go on after its caller timed out.
   Neither is clipped or dropped: the trace's duration runs from the root's start to the end of
   the last work it caused, and for the critical path each ancestor of such a child is extended
   to the child's end, so the wait between PRODUCER and CONSUMER (queue time) is on the path, as
   the producer's own time.

The store's own per-trace duration (trace_summary_data, used to select and sort traces in SQL) is
the plain envelope of the spans; it equals this one whenever no clock is skewed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from tracehouse.analytics.critical_path import PathSegment, SpanTiming, critical_path

ASYNC_KINDS = ("CONSUMER",)


def is_async(child_kind: str, parent_kind: str) -> bool:
    return child_kind in ASYNC_KINDS or parent_kind == "PRODUCER"


def place(parent: Sequence[int], service: Sequence[str], kind: Sequence[str], start: Sequence[int],
          end: Sequence[int]) -> tuple[int, list[int], list[int]]:
    """Skew correction over one trace given as parallel lists (`parent[i]` is the index of span i's
    parent, or -1). Returns the root's index (-1 for no spans), each span's shift in ns, and the
    spans reachable from the root in top-down order (the others are not part of the request)."""
    n = len(parent)
    if n == 0:
        return -1, [], []
    root = min((i for i in range(n) if parent[i] < 0), key=lambda i: (start[i], start[i] - end[i], i), default=-1)
    if root < 0:
        root = min(range(n), key=lambda i: (start[i], start[i] - end[i], i))
    children: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        if parent[i] >= 0 and i != root:
            children[parent[i]].append(i)
    shift = [0] * n
    order = [root]
    pending = [root]
    seen = {root}
    while pending:
        p = pending.pop()
        p_start, p_end = start[p] + shift[p], end[p] + shift[p]
        for c in children.get(p, ()):
            if c in seen:
                continue
            seen.add(c)
            s = shift[p]
            if service[c] != service[p] and not is_async(kind[c], kind[p]):
                c_start, c_end = start[c] + s, end[c] + s
                if c_start < p_start or c_end > p_end:
                    duration, room = c_end - c_start, p_end - p_start
                    s += (p_start + (room - duration) // 2 - c_start) if duration <= room else p_start - c_start
            shift[c] = s
            order.append(c)
            pending.append(c)
    return root, shift, order


def placed_duration(root: int, shift: Sequence[int], order: Sequence[int], start: Sequence[int],
                    end: Sequence[int]) -> int:
    """The trace's duration: from the root's start to the end of the last work it caused (ns)."""
    if root < 0:
        return 0
    return max(0, max(end[i] + shift[i] for i in order) - (start[root] + shift[root]))


def timeline(spans: Sequence[SpanTiming]) -> tuple[list[SpanTiming], dict[str, int]]:
    """The request's spans placed on one timeline: skew corrected, and each ancestor of a child that
    ends after it extended to that end (see the module docstring). Also the shift applied to each
    service that needed one (ns; the first seen per service)."""
    unique = list({s.span_id: s for s in reversed(spans)}.values())[::-1]
    index = {s.span_id: i for i, s in enumerate(unique)}
    parent = [index.get(s.parent_span_id, -1) if s.parent_span_id is not None and s.parent_span_id != s.span_id
              else -1 for s in unique]
    root, shift, order = place(parent, [s.service_name for s in unique], [s.kind for s in unique],
                               [s.start_ns for s in unique], [max(s.start_ns, s.end_ns) for s in unique])
    if root < 0:
        return [], {}
    shifts: dict[str, int] = {}
    for i in order:
        if shift[i] and (parent[i] < 0 or shift[i] != shift[parent[i]]):
            shifts.setdefault(unique[i].service_name, shift[i])
    ends = {i: max(unique[i].start_ns, unique[i].end_ns) + shift[i] for i in order}
    for i in reversed(order):  # bottom-up: a parent ends no earlier than its children
        if i != root and parent[i] in ends and ends[parent[i]] < ends[i]:
            ends[parent[i]] = ends[i]
    placed = [unique[i] if not shift[i] and ends[i] == unique[i].end_ns
              else replace(unique[i], start_ns=unique[i].start_ns + shift[i], end_ns=ends[i]) for i in order]
    return placed, shifts


def trace_duration(spans: Sequence[SpanTiming]) -> int:
    """The trace's duration (see the module docstring), in ns."""
    placed, _ = timeline(spans)
    return placed[0].end_ns - placed[0].start_ns if placed else 0


def trace_critical_path(spans: Sequence[SpanTiming]) -> list[PathSegment]:
    """The critical path over the trace's timeline; its self times add up to `trace_duration`."""
    placed, _ = timeline(spans)
    return critical_path(placed)
