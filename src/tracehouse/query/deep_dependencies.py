"""The Deep Dependency Graph's paths (Jaeger UI's /analytics/v1/dependencies), from the traces the
analyses sample (AnalyticsReader.trace_sample, the data `analyze paths` and `origins` read).

A path is the chain of service entries from a trace's root down to one of its leaves: each span that
is a root or whose parent is in another service is an entry (service, operation) — the hops
`analyze origins` counts — and the focal span is kept wherever it is. Paths through the focal
service (and operation, when given) are kept, each once, with an exemplar trace id, in the payload
shape the Jaeger UI reads:
{"dependencies": [{"path": [{"service", "operation"}], "attributes": [{"key", "value"}]}]}.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def _entries_to_leaves(rows: list[tuple[str, str | None, str, str]],
                       focal: tuple[str, str | None]) -> list[tuple[tuple[str, str], ...]]:
    """For one trace's spans (span_id, parent_span_id, service, operation): the entry chain from the
    root to each leaf span. A span of the focal service and operation is in the chain even when it is
    not an entry, as the Jaeger UI keeps the focal span in its own paths."""
    by_id = {span_id: (parent, service, name) for span_id, parent, service, name in rows}
    has_child = {parent for _, parent, _, _ in rows if parent is not None}
    paths = []
    for span_id, _parent, _service, _name in rows:
        if span_id in has_child:
            continue
        chain: list[tuple[str, str]] = []
        node: str | None = span_id
        seen: set[str] = set()
        while node is not None and node in by_id and node not in seen:
            seen.add(node)
            parent, service, name = by_id[node]
            parent_service = by_id[parent][1] if parent is not None and parent in by_id else None
            if parent_service != service or (service, name) == focal:
                chain.append((service, name))
            node = parent
        paths.append(tuple(reversed(chain)))
    return paths


def ddg_payload(sample: pa.Table, service: str, operation: str | None) -> dict[str, Any]:
    """Paths through `service` (and `operation`) among the sampled traces' spans."""
    cols = {name: sample.column(name).to_pylist()
            for name in ("trace_id", "span_id", "parent_span_id", "service_name", "span_name")}
    traces: dict[str, list[tuple[str, str | None, str, str]]] = {}
    for trace_id, span_id, parent, svc, name in zip(cols["trace_id"], cols["span_id"], cols["parent_span_id"],
                                                     cols["service_name"], cols["span_name"], strict=True):
        traces.setdefault(trace_id, []).append((span_id, parent, svc, name))
    found: dict[tuple[tuple[str, str], ...], str] = {}
    for trace_id, rows in traces.items():
        for path in _entries_to_leaves(rows, (service, operation)):
            if any(s == service and (operation is None or o == operation) for s, o in path):
                found.setdefault(path, trace_id)
    return {"dependencies": [
        {"path": [{"service": s, "operation": o} for s, o in path],
         "attributes": [{"key": "exemplar_trace_id", "value": trace_id}]}
        for path, trace_id in sorted(found.items())
    ]}
