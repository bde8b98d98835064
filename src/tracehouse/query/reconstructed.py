"""Reconstructed traces for reading: a trace joined with the fragments that inferred links tie to it.

The spans are returned as stored, except that a fragment's root span gets its inferred parent in
the copy handed to the view, and the view marks it (`inferred`: confidence and the trace the
span was received in). Nothing is written back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from tracehouse.query.spans import Span
from tracehouse.store import InferredLinkStore, SpanReader

# A wrong link could chain unrelated traces; a reconstructed trace is cut at this many fragments.
MAX_FRAGMENTS = 200
MAX_HOPS = 32


@dataclass(frozen=True)
class Inferred:
    parent_span_id: str
    confidence: float
    received_trace_id: str       # the trace the child span arrived in (a fragment)
    method: str


@dataclass
class Joined:
    root_trace_id: str
    trace_ids: list[str]                     # the root first, then the fragments
    inferred: dict[str, Inferred] = field(default_factory=dict)   # child span id -> its inferred link


def joined_traces(store: object, trace_id: str) -> Joined:
    """Every trace tied to `trace_id` by inferred links (both ways), and the links. A store that
    does not keep inferred links, or a trace without any, gives just the trace itself."""
    if not isinstance(store, InferredLinkStore):
        return Joined(trace_id, [trace_id])
    seen = {trace_id}
    frontier = [trace_id]
    children: dict[str, str] = {}  # child trace -> parent trace
    inferred: dict[str, Inferred] = {}
    for _ in range(MAX_HOPS):
        table = store.inferred_links(frontier)
        frontier = []
        for row in table.to_pylist():
            child_trace, parent_trace = row["child_trace_id"], row["parent_trace_id"]
            inferred[row["child_span_id"]] = Inferred(row["parent_span_id"], float(row["confidence"]), child_trace,
                                                      row["method"])
            children[child_trace] = parent_trace
            for t in (child_trace, parent_trace):
                if t not in seen and len(seen) < MAX_FRAGMENTS:
                    seen.add(t)
                    frontier.append(t)
        if not frontier:
            break
    root = trace_id
    for _ in range(MAX_HOPS):
        parent = children.get(root)
        if parent is None or parent not in seen:
            break
        root = parent
    return Joined(root, [root, *sorted(t for t in seen if t != root)], inferred)


def with_inferred_parents(spans: Sequence[Span], joined: Joined) -> list[Span]:
    """Copies of `spans` in which each child of an inferred link has that parent."""
    out: list[Span] = []
    for s in spans:
        link = joined.inferred.get(s.span_id)
        if link is not None and s.parent_span_id is None:
            s = dataclasses.replace(s, parent_span_id=link.parent_span_id)
        out.append(s)
    return out


class JoinedSpanReader:
    """`get_spans` of whole reconstructed traces, for analyses that read traces joined (their
    AnalysisFilter.reconstructed is 'include' or 'only'): each given trace with the fragments joined
    to it, every span under the given trace id, each fragment's root under its inferred parent."""

    def __init__(self, store: SpanReader) -> None:
        self._store = store

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        tables = []
        for trace_id in trace_ids:
            joined = joined_traces(self._store, trace_id)
            table = self._store.get_spans(joined.trace_ids)
            if len(joined.trace_ids) > 1:
                rows = table.to_pylist()
                for row in rows:
                    link = joined.inferred.get(row["span_id"])
                    if link is not None and row["parent_span_id"] is None:
                        row["parent_span_id"] = link.parent_span_id
                    row["trace_id"] = trace_id
                table = pa.Table.from_pylist(rows, schema=table.schema)
            tables.append(table)
        return pa.concat_tables(tables) if tables else self._store.get_spans([])
