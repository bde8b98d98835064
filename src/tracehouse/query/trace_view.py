"""The UI's trace view: one trace as compact JSON, already in tree order, with its critical path.

Spans come in depth-first order (children by start time), each with its depth and the index just
past its subtree, so the browser can collapse a subtree or skip it without rebuilding the tree.
Times are nanoseconds relative to the trace's start (plain JSON numbers stay exact below 2^53 ns,
about 104 days); the absolute start travels once, as a string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tracehouse.analytics.critical_path import SpanTiming, critical_path
from tracehouse.analytics.trace_time import timeline
from tracehouse.query.reconstructed import Inferred
from tracehouse.query.spans import Span, trace_bounds

# String values longer than this are cut in the view's payload, with their full length in the span's
# (event's, resource's) "cut" map; the page fetches a full value on request (`full_value`). A trace
# whose spans carry 1 MB strings once took 48 s to open: the payload was the whole trace's values.
VIEW_VALUE_CHARS = 2_048


def _cut(attrs: dict[str, Any], limit: int | None = VIEW_VALUE_CHARS) -> tuple[dict[str, Any], dict[str, int]]:
    """`attrs` with long string values cut to `limit`, and key -> full length of those."""
    cut: dict[str, int] = {}
    if limit is None:
        return attrs, cut
    out = attrs
    for key, value in attrs.items():
        if isinstance(value, str) and len(value) > limit:
            if out is attrs:
                out = dict(attrs)
            out[key] = value[:limit]
            cut[key] = len(value)
    return out, cut


def full_value(spans: Sequence[Span], span_id: str, key: str, where: str) -> Any:
    """The full value of an attribute the view cut: of the span (`where` = "span"), its resource
    ("resource") or its event number N ("event:N"). KeyError if there is none."""
    span = next(s for s in spans if s.span_id == span_id.lower())
    if where == "span":
        return span.attributes[key]
    if where == "resource":
        return span.resource_attributes[key]
    if where.startswith("event:") and where[6:].isdigit() and int(where[6:]) < len(span.events):
        return (span.events[int(where[6:])].get("attributes") or {})[key]
    raise KeyError(where)


def tree_order(spans: Sequence[Span]) -> tuple[list[int], list[int], list[bool]]:
    """Depth-first order of `spans` (indices), each one's depth, and whether its parent is missing.

    A span whose parent is not in the trace (not arrived yet, or lost) starts a tree of its own.
    """
    index = {s.span_id: i for i, s in enumerate(spans)}
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    orphan = [False] * len(spans)
    for i, s in enumerate(spans):
        parent = index.get(s.parent_span_id) if s.parent_span_id else None
        if parent is None or parent == i:
            roots.append(i)
            orphan[i] = s.parent_span_id is not None
        else:
            children.setdefault(parent, []).append(i)

    def start_key(i: int) -> tuple[int, int, str]:
        return (spans[i].start_ns, -spans[i].duration_ns, spans[i].span_id)

    order: list[int] = []
    depth = [0] * len(spans)
    visited = [False] * len(spans)
    # Iterative: a 100,000-span chain must not hit the recursion limit.
    stack = [(r, 0) for r in sorted(roots, key=start_key, reverse=True)]
    while stack:
        i, d = stack.pop()
        if visited[i]:
            continue
        visited[i] = True
        order.append(i)
        depth[i] = d
        for c in sorted(children.get(i, ()), key=start_key, reverse=True):
            stack.append((c, d + 1))
    # Cycles (a span that is its own ancestor) are unreachable from any root; show them as roots.
    for i in range(len(spans)):
        if not visited[i]:
            visited[i] = True
            order.append(i)
            orphan[i] = True
    return order, depth, orphan


def trace_view(spans: Sequence[Span], inferred: Mapping[str, Inferred] | None = None,
               trace_id: str | None = None, cut_values: bool = True) -> dict[str, Any]:
    """The view of one trace. With `inferred` (a reconstructed trace: spans of several received
    traces, fragments' roots already given their inferred parents), each such span carries
    `inferred` {confidence, trace: the trace it was received in, method}, and `reconstructed`
    sums the links up; `trace_id` names the trace shown (the root's). `cut_values`: cut long values
    (full_value fetches them)."""
    limit = VIEW_VALUE_CHARS if cut_values else None
    inferred = inferred or {}
    # The one timeline (analytics.trace_time, ADR 13): spans of a service whose clock is off are
    # drawn where they ran (shifted, durations untouched), and the duration and critical path are
    # the ones every analysis uses. Spans not reachable from the root (parents missing) are drawn
    # as received.
    placed, corrections = timeline([
        SpanTiming(s.span_id, s.parent_span_id, s.service_name, s.span_name, s.start_ns, s.end_ns, s.span_kind)
        for s in spans])
    received = {s.span_id: s.start_ns for s in spans}
    shift = {p.span_id: p.start_ns - received[p.span_id] for p in placed if p.start_ns != received[p.span_id]}
    start, end = trace_bounds(spans)
    if shift:
        start = min(s.start_ns + shift.get(s.span_id, 0) for s in spans)
        end = max(s.end_ns + shift.get(s.span_id, 0) for s in spans)
    order, depth, orphan = tree_order(spans)
    position = {i: p for p, i in enumerate(order)}
    services: dict[str, int] = {}
    # Keyed by identity first: spans read from the store share one dict per distinct resource.
    resources_by_identity: dict[tuple[str, int], int] = {}
    resources: dict[bytes, int] = {}
    resource_list: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i in order:
        s = spans[i]
        svc = services.setdefault(s.service_name, len(services))
        res = resources_by_identity.get((s.service_name, id(s.resource_attributes)))
        if res is None:
            res_key = orjson.dumps([s.service_name, s.resource_attributes], option=orjson.OPT_SORT_KEYS)
            res = resources.get(res_key)
            if res is None:
                res = resources[res_key] = len(resource_list)
                resource_attrs, resource_cut = _cut(s.resource_attributes, limit)
                resource_list.append({"service": s.service_name, "attributes": resource_attrs,
                                      **({"cut": resource_cut} if resource_cut else {})})
            resources_by_identity[(s.service_name, id(s.resource_attributes))] = res
        attrs, cut = _cut(s.attributes, limit)
        events = []
        for e in s.events:
            event_attrs, event_cut = _cut(e.get("attributes") or {}, limit)
            events.append({"t": int(e.get("time_unix_nano") or 0) - start, "name": e.get("name") or "",
                           "attrs": event_attrs, **({"cut": event_cut} if event_cut else {})})
        out.append({
            "id": s.span_id,
            "parent": s.parent_span_id,
            "svc": svc,
            "res": res,
            "name": s.span_name,
            "kind": s.span_kind,
            "start": s.start_ns + shift.get(s.span_id, 0) - start,
            "dur": s.duration_ns,
            **({"shift": shift[s.span_id]} if s.span_id in shift else {}),
            "depth": depth[i],
            "orphan": orphan[i],
            "status": s.status_code,
            "msg": s.status_message,
            "attrs": attrs,
            **({"cut": cut} if cut else {}),
            "events": events,
            "links": s.links,
            "scope": s.scope_name,
            "scopeVersion": s.scope_version,
        })
        link = inferred.get(s.span_id)
        if link is not None and s.parent_span_id == link.parent_span_id:
            out[-1]["inferred"] = {"confidence": round(link.confidence, 4), "trace": link.received_trace_id,
                                   "method": link.method}
    # Index just past each span's subtree: the next span at the same or a smaller depth.
    ends = [len(out)] * len(out)
    open_spans: list[int] = []
    for p, span_out in enumerate(out):
        while open_spans and out[open_spans[-1]]["depth"] >= span_out["depth"]:
            ends[open_spans.pop()] = p
        open_spans.append(p)
    for p, span_out in enumerate(out):
        span_out["end"] = ends[p]
    path = critical_path(placed)
    by_id = {s.span_id: position[i] for i, s in enumerate(spans)}
    shown = [v["inferred"]["confidence"] for v in out if "inferred" in v]
    return {
        "traceId": trace_id or (spans[0].trace_id if spans else ""),
        "reconstructed": {"links": len(shown), "minConfidence": min(shown),
                          "traces": sorted({s.trace_id for s in spans})} if shown else None,
        "startUnixNano": str(start),
        "duration": end - start,
        # Per service whose clock was corrected: the shift applied to its spans (ns; ADR 13).
        "clockCorrections": corrections,
        "services": list(services),
        "resources": resource_list,
        "spans": out,
        "criticalPath": [{"span": by_id[seg.span.span_id], "start": seg.start_ns - start, "end": seg.end_ns - start}
                         for seg in path],
    }
