"""What a sampling policy looks at: one `TraceFacts` per trace, built from a table of its spans.

The table has the columns of `FACT_COLUMNS` (a store produces them for held spans and for stored
ones alike, so the live sampler and `tracehouse sampling simulate` decide on the same facts).
Attribute maps stay JSON text until an attribute policy asks for a key: most policies never do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

# trace_id (16 bytes), parent_span_id (null for a root), service_name, span_name, status_code
# (index into model.STATUS_CODES: 2 is ERROR), start/end (unix ns), attributes and
# resource_attributes (JSON objects), approx_bytes (what the span costs to keep, roughly).
FACT_COLUMNS = ("trace_id", "parent_span_id", "service_name", "span_name", "status_code",
                "start_time_unix_nano", "end_time_unix_nano", "attributes", "resource_attributes",
                "approx_bytes")
STATUS_ERROR = 2


@dataclass
class TraceFacts:
    trace_id: bytes
    has_root: bool
    root_service: str
    root_operation: str
    start_unix_nano: int
    end_unix_nano: int
    span_count: int
    error_count: int
    approx_bytes: int
    services: frozenset[str]
    operations: frozenset[tuple[str, str]]
    attribute_texts: list[str | None] = field(default_factory=list, repr=False)
    resource_texts: list[str | None] = field(default_factory=list, repr=False)
    _parsed: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def duration_ns(self) -> int:
        return self.end_unix_nano - self.start_unix_nano

    def attribute_values(self, key: str) -> Iterator[Any]:
        """Every value `key` has in a span's or a resource's attributes in this trace."""
        if self._parsed is None:
            parsed: list[dict[str, Any]] = []
            for text in (*self.attribute_texts, *dict.fromkeys(self.resource_texts)):
                if text:
                    try:
                        value = orjson.loads(text)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(value, dict):
                        parsed.append(value)
            self._parsed = parsed
        for attributes in self._parsed:
            if key in attributes:
                yield attributes[key]


def facts_of(table: pa.Table) -> list[TraceFacts]:
    """One TraceFacts per trace in `table` (FACT_COLUMNS), in order of first appearance."""
    if table.num_rows == 0:
        return []
    cols = {name: table.column(name).to_pylist() for name in FACT_COLUMNS}
    rows: dict[bytes, list[int]] = {}
    for i, tid in enumerate(cols["trace_id"]):
        rows.setdefault(bytes(tid), []).append(i)
    parents, services, names = cols["parent_span_id"], cols["service_name"], cols["span_name"]
    statuses, starts, ends = cols["status_code"], cols["start_time_unix_nano"], cols["end_time_unix_nano"]
    attrs, resources, sizes = cols["attributes"], cols["resource_attributes"], cols["approx_bytes"]
    out: list[TraceFacts] = []
    for tid, idx in rows.items():
        roots = [i for i in idx if parents[i] is None]
        # The root is the span without a parent (the earliest if several), as in the store's views.
        root = min(roots or idx, key=lambda i: starts[i])
        out.append(TraceFacts(
            trace_id=tid,
            has_root=bool(roots),
            root_service=services[root] or "",
            root_operation=names[root] or "",
            start_unix_nano=min(starts[i] for i in idx),
            end_unix_nano=max(max(ends[i], starts[i]) for i in idx),
            span_count=len(idx),
            error_count=sum(1 for i in idx if statuses[i] == STATUS_ERROR),
            approx_bytes=sum(int(sizes[i] or 0) for i in idx),
            services=frozenset(services[i] for i in idx),
            operations=frozenset((services[i], names[i]) for i in idx),
            attribute_texts=[attrs[i] for i in idx],
            resource_texts=[resources[i] for i in idx],
        ))
    return out
