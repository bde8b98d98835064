"""Critical path of a trace, and where the time on it went across many traces.

The critical path is the chain of work that decided when a request finished: make any part of it
faster and the request finishes sooner; make anything off it faster and nothing changes. We use the
algorithm of Jaeger's UI (packages/jaeger-ui/src/components/TracePage/CriticalPath): start at the
root, walk backwards in time from its end, descend into the child that finished last before the
current point, and come back up to the parent at that child's start; time of a span not covered by
the child being followed is the span's own ("self") time on the path.

Before walking, spans are clipped into their parent the way Jaeger does, because clocks of different
hosts disagree and async work outlives its caller: a child that outlives its parent is cut at the
parent's end, one that starts before its parent is cut at the parent's start, and one lying wholly
outside its parent (with its descendants) is left off. After clipping, the path's self times add up
to the root's duration exactly.

Pure functions over plain data; no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class SpanTiming:
    """The part of a span the critical path needs. Times are unix nanoseconds; `end_ns >= start_ns`
    is not required (a negative duration is treated as zero)."""

    span_id: str
    parent_span_id: str | None
    service_name: str
    span_name: str
    start_ns: int
    end_ns: int
    kind: str = ""
    """The span kind ('SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER', ...; '' when unknown)."""


class PathSegment(NamedTuple):
    """A stretch of the critical path spent in `span` itself (not in a child it was waiting for).

    Unpacks as `(span, self_time_ns, start_ns, end_ns)`; `self_time_ns == end_ns - start_ns`. A span
    may appear in several segments: before, between and after the children on the path.
    """

    span: SpanTiming
    self_time_ns: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class OperationShare:
    """Critical-path self time of one (service, operation) summed over many traces."""

    service_name: str
    span_name: str
    self_time_ns: int
    share: float
    """Fraction (0..1) of all critical-path time in the traces given."""
    trace_count: int
    """Traces in which this operation had self time on the critical path."""


def find_root(spans: Sequence[SpanTiming]) -> SpanTiming | None:
    """The span the request started at: one with no parent in the trace, the earliest (then longest).

    Spans whose parent is missing (not yet arrived, or dropped) are candidates too, so a trace with
    a lost root still has a path, starting at its outermost surviving span.
    """
    ids = {span.span_id for span in spans}
    candidates = [s for s in spans if s.parent_span_id is None or s.parent_span_id not in ids
                  or s.parent_span_id == s.span_id]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.start_ns, -(s.end_ns - s.start_ns), s.span_id))


@dataclass
class _Node:
    span: SpanTiming
    start_ns: int
    end_ns: int
    parent: _Node | None
    children: list[_Node]
    # Index into `children` (sorted by end, latest first) of the next child the walk may follow.
    next_child: int = 0


def _clipped_tree(spans: Sequence[SpanTiming], root: SpanTiming) -> _Node:
    """The tree under `root`, each span clipped into its (clipped) parent; spans outside it dropped."""
    children_of: dict[str, list[SpanTiming]] = defaultdict(list)
    seen: set[str] = set()
    for span in spans:
        if span.span_id in seen:
            continue  # a duplicated span (re-sent export) counts once
        seen.add(span.span_id)
        if span.parent_span_id is not None and span.parent_span_id != span.span_id:
            children_of[span.parent_span_id].append(span)

    top = _Node(root, root.start_ns, max(root.start_ns, root.end_ns), None, [])
    pending = [top]
    visited = {root.span_id}
    while pending:
        node = pending.pop()
        for child in children_of.get(node.span.span_id, ()):
            if child.span_id in visited:
                continue
            start, end = child.start_ns, max(child.start_ns, child.end_ns)
            if start > node.end_ns or end < node.start_ns:
                continue  # wholly outside its parent: not part of what the parent waited for
            visited.add(child.span_id)
            clipped = _Node(child, max(start, node.start_ns), min(end, node.end_ns), node, [])
            node.children.append(clipped)
            pending.append(clipped)
        node.children.sort(key=lambda n: (n.end_ns, n.start_ns), reverse=True)
    return top


def critical_path(spans: Sequence[SpanTiming]) -> list[PathSegment]:
    """The critical path of one trace, as segments in time order (earliest first).

    Empty for an empty trace. The segments' self times add up to the (clipped) root's duration.
    """
    root = find_root(spans)
    if root is None:
        return []
    node = _clipped_tree(spans, root)
    backwards: list[PathSegment] = []

    def emit(target: _Node, start: int, end: int) -> None:
        if end > start:
            backwards.append(PathSegment(target.span, end - start, start, end))

    # `cursor` walks from the root's end back to its start. Iterative, so deep traces cannot
    # exhaust the recursion limit.
    cursor = node.end_ns
    while True:
        child = _last_child_ending_by(node, cursor)
        if child is not None:
            emit(node, child.end_ns, cursor)
            node, cursor = child, child.end_ns
            continue
        emit(node, node.start_ns, cursor)
        if node.parent is None:
            break
        node, cursor = node.parent, node.start_ns
    backwards.reverse()
    return backwards


def _last_child_ending_by(node: _Node, cursor: int) -> _Node | None:
    """The child that finished last, at or before `cursor`; children are tried at most once.

    The cursor only moves backwards for a given parent, so a child ending after it now never
    qualifies later, and a child already followed must not be followed again.
    """
    while node.next_child < len(node.children):
        child = node.children[node.next_child]
        node.next_child += 1
        if child.end_ns <= cursor:
            return child
    return None


def self_time_by_operation(path: Iterable[PathSegment]) -> dict[tuple[str, str], int]:
    """Critical-path self time of each (service, operation) in one path."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for segment in path:
        totals[(segment.span.service_name, segment.span.span_name)] += segment.self_time_ns
    return dict(totals)


def operation_shares(traces: Iterable[Sequence[SpanTiming]]) -> list[OperationShare]:
    """Where the critical-path time of many traces went, per (service, operation), largest first.

    Each trace's path is computed separately; shares are of the summed path time of all traces,
    so a trace counts in proportion to its duration.
    """
    totals: dict[tuple[str, str], int] = defaultdict(int)
    traces_with: dict[tuple[str, str], int] = defaultdict(int)
    for spans in traces:
        for key, self_time in self_time_by_operation(critical_path(spans)).items():
            totals[key] += self_time
            traces_with[key] += 1
    grand_total = sum(totals.values())
    shares = [
        OperationShare(service, name, total, total / grand_total if grand_total else 0.0, traces_with[(service, name)])
        for (service, name), total in totals.items()
    ]
    shares.sort(key=lambda s: (-s.self_time_ns, s.service_name, s.span_name))
    return shares
