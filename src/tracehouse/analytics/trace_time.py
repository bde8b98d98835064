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
from dataclasses import dataclass, replace
from math import floor

import pyarrow as pa
import pyarrow.compute as pc

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


# ---- The same definition over many traces at once (routes and compare: tens of thousands of
# traces), as Arrow column work (pyarrow.compute; the backend process refuses numpy, ADR 8, second
# amendment). `place` per trace in Python gives the same numbers (a test holds the two together on
# random forests) but took ~4x longer: 0.53 s against 0.14 s on 10,000 traces of 11 spans, and the
# paths analysis at 1M traces measures 20,000 traces within its 2 s.
#
# A child's shift is its parent's plus what `place` adds for it, and that addition depends on the
# raw times of the two spans only (the parent's shift moves both alike). So each span's shift is
# the sum of those additions up its chain of ancestors, summed by pointer jumping: each pass adds
# the partial sum of the ancestor a span points at and jumps to that ancestor's target, so a chain
# of depth d takes log2(d) passes. A span is part of the request when its chain ends at the root.

@dataclass(frozen=True)
class TraceTimes:
    """Per trace of a span table (in order of first appearance): its id, whether any of its spans
    failed, its start (the root's) and its duration, both by the definition above (ns); and, per
    span counted (a re-sent span once), its row in the table, the index of its trace, and the
    index (among the spans counted) of its parent (-1: none in the table)."""

    trace_ids: list[str]
    failed: list[bool]
    start_ns: list[int]
    duration_ns: list[int]
    span_rows: list[int]
    span_trace: list[int]
    span_parent: list[int]


def slow_threshold(durations: Sequence[int], slowest_fraction: float) -> int:
    """The duration at rank floor((n - 1) * (1 - slowest_fraction)) of the n sorted (DuckDB's
    quantile_disc): a trace at or above it is among the slowest."""
    return sorted(durations)[floor((len(durations) - 1) * (1 - slowest_fraction))]


def dictionary_codes(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each value's index into the distinct values (in order of first appearance; int64, null for
    null), and those."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    return pc.cast(encoded.indices, pa.int64()), encoded.dictionary


def _per_trace(trace: pa.Array, values: pa.Array, aggregate: str, count: int) -> pa.Array:
    """`aggregate` ("max", "any") of `values` per trace code, in code order (every code 0..count-1
    must occur)."""
    grouped = pa.table({"t": trace, "v": values}).group_by("t", use_threads=False).aggregate([("v", aggregate)])
    assert grouped.num_rows == count
    return pc.take(grouped.column(f"v_{aggregate}"), pc.sort_indices(grouped.column("t")))


def trace_times(spans: pa.Table) -> TraceTimes:
    """`place` and `placed_duration` for every trace of `spans` (trace_sample's columns: trace_id,
    span_id, parent_span_id, service_name, span_kind, start_time_unix_nano, duration_ns, error)."""
    if spans.num_rows == 0:
        return TraceTimes([], [], [], [], [], [], [])
    trace, trace_dictionary = dictionary_codes(spans.column("trace_id"))
    trace_ids = [str(t) for t in trace_dictionary.to_pylist()]
    count = len(trace_ids)
    failed = _per_trace(trace, pc.fill_null(spans.column("error").combine_chunks(), False), "any", count)
    span, span_dictionary = dictionary_codes(spans.column("span_id"))
    width = len(span_dictionary)
    key = pc.add(pc.multiply(trace, width), span)
    # A re-sent span counts once: its first row, as `timeline` keeps it.
    rows = pa.array(range(spans.num_rows), pa.int64())
    kept = rows
    if len(pc.unique(key)) < len(key):
        first = pa.table({"k": key, "r": rows}).group_by("k", use_threads=False).aggregate([("r", "min")])
        kept = pc.take(first.column("r_min"), pc.sort_indices(first.column("r_min"))).combine_chunks()
    columns = spans.take(kept) if len(kept) < len(key) else spans
    trace, key = pc.take(trace, kept), pc.take(key, kept)
    n = len(kept)
    index = pa.array(range(n), pa.int64())
    start = pc.cast(columns.column("start_time_unix_nano"), pa.int64()).combine_chunks()
    end = pc.add(start, pc.max_element_wise(pc.cast(columns.column("duration_ns"), pa.int64()).combine_chunks(), 0))
    service = pc.fill_null(dictionary_codes(columns.column("service_name"))[0], -1)
    kind = pc.fill_null(columns.column("span_kind"), "").combine_chunks()
    consumer = pc.is_in(kind, value_set=pa.array(ASYNC_KINDS))
    producer = pc.equal(kind, "PRODUCER")
    # The parent's index: its key in the same trace among the spans counted; none there, or the
    # span itself: -1 (a root).
    parent_code = pc.index_in(columns.column("parent_span_id"), value_set=span_dictionary).combine_chunks()
    parent = pc.index_in(pc.add(pc.multiply(trace, width), pc.cast(parent_code, pa.int64())), value_set=key)
    parent = pc.cast(pc.if_else(pc.equal(parent, index), None, parent), pa.int64())
    # The root: a span without a parent in the trace (all spans when none is), the earliest, then
    # the longest, then the first.
    parentless = pc.is_null(parent)
    has_parentless = pc.take(_per_trace(trace, parentless, "any", count), trace)
    candidate = pc.or_(parentless, pc.invert(has_parentless))
    ranked = pa.table({"t": trace, "c": pc.cast(candidate, pa.int8()), "s": start, "l": pc.subtract(start, end),
                       "i": index})
    order = pc.sort_indices(ranked, sort_keys=[("t", "ascending"), ("c", "descending"), ("s", "ascending"),
                                               ("l", "ascending"), ("i", "ascending")])
    root_of = pc.take(order, pc.index_in(pa.array(range(count), pa.int64()), value_set=pc.take(trace, order)))
    is_root = pc.is_in(index, value_set=root_of)
    link = pc.if_else(is_root, None, parent)
    # What `place` adds for each child that sticks out of its synchronous parent in another service.
    p_start, p_end = pc.take(start, link), pc.take(end, link)
    sticks_out = pc.and_(pc.and_(pc.not_equal(service, pc.take(service, link)),
                                 pc.invert(pc.or_(consumer, pc.take(producer, link)))),
                         pc.or_(pc.less(start, p_start), pc.greater(end, p_end)))
    duration, room = pc.subtract(end, start), pc.subtract(p_end, p_start)
    centred = pc.subtract(pc.add(p_start, pc.divide(pc.subtract(room, duration), 2)), start)  # room >= duration: floor
    delta = pc.fill_null(pc.if_else(sticks_out, pc.if_else(pc.less_equal(duration, room), centred,
                                                           pc.subtract(p_start, start)), 0), 0)
    # Pointer jumping: `shift` sums the additions from a span up to (not including) `up`, its
    # ancestor 2^k levels above; once `up` is null, `top` is where its chain ends. A chain still
    # open after log2(n) + 1 passes is a cycle, which no root reaches.
    shift, up = delta, link
    top = pc.if_else(pc.is_null(link), index, None)
    for _ in range(n.bit_length() + 1):
        if up.null_count == n:
            break
        shift = pc.add(shift, pc.fill_null(pc.take(shift, up), 0))
        top = pc.coalesce(top, pc.if_else(pc.is_null(pc.take(up, up)), pc.take(top, up), None))
        up = pc.take(up, up)
    reached = pc.fill_null(pc.take(is_root, top), False)
    placed_end = pc.filter(pc.add(end, shift), reached)
    last_end = _per_trace(pc.filter(trace, reached), placed_end, "max", count)
    trace_start = pc.add(pc.take(start, root_of), pc.take(shift, root_of))
    duration_ns = pc.max_element_wise(pc.subtract(last_end, trace_start), 0)
    return TraceTimes(trace_ids, failed.to_pylist(), trace_start.to_pylist(), duration_ns.to_pylist(),
                      kept.to_pylist(), trace.to_pylist(), pc.fill_null(parent, -1).to_pylist())
