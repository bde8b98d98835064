"""Inferred links: parent links a reconstruction proposed where context propagation was broken.

Additive to the span contract: a store keeps them beside the spans, never in them. A span's own
parent_span_id is what its client sent, and nothing here changes it; an inferred link says "this
parentless span was probably called by that span", with a confidence. A ClickHouse store
implements the same Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import pyarrow as pa

# What `call_spans` returns: SERVER, CLIENT, PRODUCER and CONSUMER spans (ids as lowercase hex),
# with their attributes as JSON text for the hints both ends of a call may carry.
CALL_SPAN_SCHEMA = pa.schema([
    ("trace_id", pa.string()),
    ("span_id", pa.string()),
    ("parent_span_id", pa.string()),
    ("service_name", pa.string()),
    ("span_name", pa.string()),
    ("span_kind", pa.string()),
    ("start_time_unix_nano", pa.int64()),
    ("end_time_unix_nano", pa.int64()),
    ("attributes", pa.string()),
])

# One inferred link: the parentless child span, the caller span proposed as its parent, how sure.
INFERRED_LINK_SCHEMA = pa.schema([
    ("child_trace_id", pa.string()),
    ("child_span_id", pa.string()),
    ("child_start_time_unix_nano", pa.int64()),
    ("parent_trace_id", pa.string()),
    ("parent_span_id", pa.string()),
    ("confidence", pa.float64()),
    ("method", pa.string()),
    ("child_service", pa.string()),
    ("parent_service", pa.string()),
])


@runtime_checkable
class InferredLinkStore(Protocol):
    def call_spans(self, start_unix_nano: int, end_unix_nano: int) -> pa.Table:
        """The call spans (kinds SERVER, CLIENT, PRODUCER, CONSUMER) that started in
        [start, end), in CALL_SPAN_SCHEMA, ordered by start time."""
        ...

    def replace_inferred_links(self, start_unix_nano: int, end_unix_nano: int, links: pa.Table) -> int:
        """Atomically replace the inferred links whose child started in [start, end) with `links`
        (INFERRED_LINK_SCHEMA; every child inside that range). Spans are never touched, so a rerun
        over the same range leaves one set of links, never duplicates. Safe to call from a thread
        other than the span writer's. Returns how many links are stored for the range."""
        ...

    def inferred_links(self, trace_ids: Sequence[str]) -> pa.Table:
        """The inferred links whose child or parent lies in one of the given traces (hex ids), in
        INFERRED_LINK_SCHEMA. Empty when there are none (or reconstruction never ran)."""
        ...

    def inferred_link_stats(self) -> tuple[int, float | None]:
        """(links stored, their mean confidence or None)."""
        ...
