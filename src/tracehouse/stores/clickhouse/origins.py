"""The origins analysis's grouping on ClickHouse (AnalyticsReader.origin_stats): ClickHouse selects
the spans of the traces with a call into the service (sql/analytics/origin_spans.sql); here each
call walks up its parents, as the embedded store's SQL does (stores/duckdb/sql/analytics/origins.sql),
with the same rules, so both give the same rows:

- a call is a span of the service whose parent is in another service, or that is a root; a span
  whose parent is in its own service is not a call into it; a span whose parent is not in the
  window counts, with the chain found so far;
- the walk stops at a root, at a parent outside the window, or after 64 levels;
- groups are (entry, chain, operation): calls, error calls, p50/p95 of the call's duration
  (interpolated, as quantile_cont), and the slowest call's trace as the example.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from tracehouse.stores.clickhouse.analytics import quantile_cont

MAX_DEPTH = 64
ORIGIN_SCHEMA = pa.schema([
    ("entry", pa.string()), ("chain", pa.string()), ("operation", pa.string()), ("calls", pa.int64()),
    ("error_calls", pa.int64()), ("p50_ns", pa.float64()), ("p95_ns", pa.float64()),
    ("example_trace_id", pa.string()),
])


Groups = dict[tuple[tuple[str, ...], str], list[Any]]


def add_calls(groups: Groups, rows: list[list[Any]], service: str, operation: str | None) -> None:
    """Walk up from each call of `rows` (the spans of whole traces) and count it in its group:
    (labels root first, operation) -> [durations, errors, (slowest duration, trace), is_root]."""
    by_trace: dict[str, list[list[Any]]] = defaultdict(list)
    for row in rows:
        by_trace[str(row[0])].append(row)
    for trace, spans in by_trace.items():
        nodes = {str(s[1]): (s[2], str(s[3]), str(s[4])) for s in spans}
        for _, _, parent, svc, name, duration, error in spans:
            if svc != service or (operation is not None and name != operation):
                continue
            labels: list[str] = []
            cur = parent
            internal = None
            for _depth in range(MAX_DEPTH):
                if cur is None:
                    break
                node = nodes.get(str(cur))
                if node is None:
                    break
                if internal is None:
                    internal = node[1] == service
                labels.append(f"{node[1]}:{node[2]}")
                cur = node[0]
            is_root = parent is None
            if not is_root and internal:
                continue    # called from its own service: not a call into it
            key = (tuple(reversed(labels)), str(name))
            group = groups.setdefault(key, [[], 0, (-1, ""), False])
            group[0].append(int(duration))
            group[1] += 1 if error else 0
            group[2] = max(group[2], (int(duration), trace))
            group[3] = group[3] or is_root


def origin_table(groups: Groups, service: str) -> pa.Table:
    out = []
    for (path, name), (durations, errors, slowest, is_root) in groups.items():
        ordered = sorted(durations)
        if is_root:
            entry, chain = f"{service}:{name}", ""
        elif path:
            entry, chain = path[0], " > ".join(path)
        else:
            entry, chain = "?", ""
        out.append([entry, chain, name, len(ordered), errors, float(quantile_cont(ordered, 0.5)),
                    float(quantile_cont(ordered, 0.95)), slowest[1]])
    out.sort(key=lambda r: (-r[3], r[0], r[1]))
    columns = list(zip(*out, strict=True)) if out else [() for _ in ORIGIN_SCHEMA]
    return pa.table([pa.array(list(c), f.type) for c, f in zip(columns, ORIGIN_SCHEMA, strict=True)],
                    schema=ORIGIN_SCHEMA)
