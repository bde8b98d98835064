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

import numpy as np
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
# traces; measured later, `place` per trace in Python was about as fast: ADR 8, amendment).
# Level by level down the trees, with numpy: a child's shift is its parent's plus what `place`
# adds for it, and that addition depends on the raw times of the two spans only (the parent's shift moves both alike).

@dataclass(frozen=True)
class TraceTimes:
    """Per trace of a span table (in order of first appearance): its id, whether any of its spans
    failed, its start (the root's) and its duration, both by the definition above (ns); and, per
    span counted (a re-sent span once), its row in the table, the index of its trace, and the
    index (among the spans counted) of its parent (-1: none in the table)."""

    trace_ids: list[str]
    failed: np.ndarray
    start_ns: np.ndarray
    duration_ns: np.ndarray
    span_rows: np.ndarray
    span_trace: np.ndarray
    span_parent: np.ndarray


def dictionary_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Each value's index into the distinct values (in order of first appearance), and those."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def trace_times(spans: pa.Table) -> TraceTimes:
    """`place` and `placed_duration` for every trace of `spans` (trace_sample's columns: trace_id,
    span_id, parent_span_id, service_name, span_kind, start_time_unix_nano, duration_ns, error)."""
    if spans.num_rows == 0:
        none = np.zeros(0, np.int64)
        return TraceTimes([], np.zeros(0, bool), none, none, none, none, none)
    trace, trace_dictionary = dictionary_codes(spans.column("trace_id"))
    span, span_dictionary = dictionary_codes(spans.column("span_id"))
    parent_span = pc.fill_null(pc.index_in(spans.column("parent_span_id"), value_set=span_dictionary), -1)
    parent_code = parent_span.to_numpy(zero_copy_only=False).astype(np.int64)
    width = len(span_dictionary)
    key = trace * width + span
    start = spans.column("start_time_unix_nano").to_numpy(zero_copy_only=False).astype(np.int64)
    end = start + np.maximum(spans.column("duration_ns").to_numpy(zero_copy_only=False).astype(np.int64), 0)
    service, _ = dictionary_codes(spans.column("service_name"))
    kind = pc.fill_null(spans.column("span_kind"), "").to_numpy(zero_copy_only=False)
    errors = pc.fill_null(spans.column("error"), False).to_numpy(zero_copy_only=False).astype(bool)
    trace_ids = [str(t) for t in trace_dictionary.to_pylist()]
    count = len(trace_ids)
    failed = np.zeros(count, bool)
    np.logical_or.at(failed, trace, errors)
    # A re-sent span counts once: its first row, as `timeline` keeps it.
    keys, first = np.unique(key, return_index=True)
    kept = np.arange(len(key), dtype=np.int64)
    if len(first) < len(key):
        kept = np.sort(first)
        trace, key, parent_code, start, end, service, kind = (
            a[kept] for a in (trace, key, parent_code, start, end, service, kind))
        keys, first = np.unique(key, return_index=True)
    n = len(key)
    index = np.arange(n, dtype=np.int64)
    # The parent's row: its key in the same trace, looked up among the sorted keys.
    wanted = np.where(parent_code >= 0, trace * width + parent_code, -1)
    at = np.minimum(np.searchsorted(keys, wanted), n - 1)
    parent = np.where((parent_code >= 0) & (keys[at] == wanted), first[at], -1)
    parent[parent == index] = -1                       # its own parent: a root
    consumer = np.isin(kind, ASYNC_KINDS)
    producer = kind == "PRODUCER"
    # The root: a span without a parent in the trace (all spans when none is), the earliest, then
    # the longest, then the first.
    parentless = parent < 0
    has_parentless = np.zeros(count, bool)
    has_parentless[trace[parentless]] = True
    candidate = parentless | ~has_parentless[trace]
    order = np.lexsort((index, start - end, start, ~candidate, trace))
    firsts = np.ones(n, bool)
    firsts[1:] = trace[order][1:] != trace[order][:-1]
    root_of = np.full(count, -1, np.int64)
    root_of[trace[order][firsts]] = order[firsts]
    is_root = np.zeros(n, bool)
    is_root[root_of[root_of >= 0]] = True
    link = np.where(is_root, -1, parent)
    # Down the trees a level at a time: each pass reaches the children of the spans reached last.
    shift = np.zeros(n, np.int64)
    reached = is_root.copy()
    frontier = is_root.copy()
    while frontier.any():
        new = (link >= 0) & ~reached
        new[new] = frontier[link[new]]
        if not new.any():
            break
        c = np.flatnonzero(new)
        p = link[c]
        sticks_out = (service[c] != service[p]) & ~(consumer[c] | producer[p]) & (
            (start[c] < start[p]) | (end[c] > end[p]))
        duration, room = end[c] - start[c], end[p] - start[p]
        centred = start[p] + (room - duration) // 2 - start[c]
        delta = np.where(sticks_out, np.where(duration <= room, centred, start[p] - start[c]), 0)
        shift[c] = shift[p] + delta
        reached[c] = True
        frontier = new
    last_end = np.full(count, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(last_end, trace[reached], (end + shift)[reached])
    roots = root_of[root_of >= 0]
    trace_start = np.zeros(count, np.int64)
    trace_start[trace[roots]] = start[roots] + shift[roots]
    duration_ns = np.maximum(0, last_end - trace_start)
    return TraceTimes(trace_ids, failed, trace_start, duration_ns, kept, trace, parent)
