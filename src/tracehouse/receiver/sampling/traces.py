"""What a sampling policy looks at: one `TraceFacts` per trace, from one row per trace.

The store aggregates a trace's spans into the columns of `TRACE_COLUMNS` (for held spans and for
stored ones alike, so the live sampler and `tracehouse sampling simulate` decide on the same
facts); the per-span work stays in the database, and Python sees one row per trace. Attribute maps
(JSON text) are listed only when a policy needs them, and parsed only when it asks for a key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

# trace_id (16 bytes), has_root, root_service, root_operation (the span without a parent, else the
# earliest), start_unix_nano, end_unix_nano, span_count, error_count (status ERROR), approx_bytes
# (what keeping the trace costs, roughly), attributes and resource_attributes (lists of JSON
# objects, or null when no policy needs them).
TRACE_COLUMNS = ("trace_id", "has_root", "root_service", "root_operation", "start_unix_nano", "end_unix_nano",
                 "span_count", "error_count", "approx_bytes", "attributes", "resource_attributes")


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
            for text in (*self.attribute_texts, *self.resource_texts):
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
    """One TraceFacts per row of `table` (TRACE_COLUMNS)."""
    if table.num_rows == 0:
        return []
    c = [table.column(name).to_pylist() for name in TRACE_COLUMNS]
    return [TraceFacts(bytes(tid), bool(root), svc or "", op or "", int(start), int(end), int(spans), int(errors),
                       int(size or 0), attrs or [], resources or [])
            for tid, root, svc, op, start, end, spans, errors, size, attrs, resources in zip(*c, strict=True)]
