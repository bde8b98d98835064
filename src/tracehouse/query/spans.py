"""Spans as Python objects, read from the store's Arrow rows or from decoded OTLP batches.

The API's formats (Jaeger JSON, OTLP-JSON, the UI's trace view) are all written from these, so each
conversion is written once, whatever the spans came from: the store or a file a user uploaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from tracehouse.model import SPAN_KINDS, SPAN_ROW_SCHEMA, STATUS_CODES


@dataclass(slots=True)
class Span:
    trace_id: str                 # lowercase hex, 32 digits
    span_id: str                  # lowercase hex, 16 digits
    parent_span_id: str | None
    service_name: str
    span_name: str
    span_kind: str                # a name from model.SPAN_KINDS
    start_ns: int                 # unix nanoseconds
    duration_ns: int
    status_code: str = "UNSET"    # a name from model.STATUS_CODES
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource_attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)   # {time_unix_nano, name, attributes}
    links: list[dict[str, Any]] = field(default_factory=list)    # {trace_id, span_id, trace_state, attributes}
    trace_state: str | None = None
    scope_name: str | None = None
    scope_version: str | None = None
    flags: int | None = None      # OTLP span flags; None when not recorded (stored before schema v3)
    scope_attributes: dict[str, Any] = field(default_factory=dict)
    scope_schema_url: str | None = None
    resource_schema_url: str | None = None

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns


def _json(text: str | None, empty: Any) -> Any:
    return orjson.loads(text) if text else empty


def spans_from_rows(table: pa.Table) -> list[Span]:
    """Spans from a table in model.SPAN_ROW_SCHEMA (what SpanReader.get_spans returns).

    Column by column (building a dict per row costs twice as much), and each distinct resource is
    parsed once and shared: spans of one service repeat the same resource text thousands of times.
    """
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    resources: dict[str | None, dict[str, Any]] = {}

    def resource(text: str | None) -> dict[str, Any]:
        parsed = resources.get(text)
        if parsed is None:
            parsed = resources[text] = _json(text, {})
        return parsed

    return [
        Span(
            trace_id=trace_id, span_id=span_id, parent_span_id=parent or None,
            service_name=service, span_name=name, span_kind=kind, start_ns=start, duration_ns=duration,
            status_code=status, status_message=message or None,
            attributes=_json(attributes, {}), resource_attributes=resource(resource_text),
            events=_json(events, []), links=_json(links, []),
            trace_state=trace_state or None, scope_name=scope_name, scope_version=scope_version,
            flags=flags, scope_attributes=_json(scope_attributes, {}), scope_schema_url=scope_schema_url or None,
            resource_schema_url=resource_schema_url or None,
        )
        for (trace_id, span_id, parent, trace_state, service, name, kind, start, duration, status, message,
             attributes, resource_text, events, links, scope_name, scope_version, flags, scope_attributes,
             scope_schema_url, resource_schema_url)
        in zip(*(cols[f.name] for f in SPAN_ROW_SCHEMA), strict=True)
    ]


def spans_from_batch(table: pa.Table) -> list[Span]:
    """Spans from a decoded OTLP batch (model.SPAN_BATCH_SCHEMA: raw ids, enum numbers), sorted by
    trace then start time like the store's rows."""
    spans = [
        Span(
            trace_id=r["trace_id"].hex(), span_id=r["span_id"].hex(),
            parent_span_id=r["parent_span_id"].hex() if r["parent_span_id"] else None,
            service_name=r["service_name"], span_name=r["span_name"],
            span_kind=SPAN_KINDS[r["span_kind"]] if r["span_kind"] < len(SPAN_KINDS) else "UNSPECIFIED",
            start_ns=r["start_time_unix_nano"],
            duration_ns=max(r["end_time_unix_nano"] - r["start_time_unix_nano"], 0),
            status_code=STATUS_CODES[r["status_code"]] if r["status_code"] < len(STATUS_CODES) else "UNSET",
            status_message=r["status_message"] or None,
            attributes=_json(r["attributes"], {}), resource_attributes=_json(r["resource_attributes"], {}),
            events=_json(r["events"], []), links=_json(r["links"], []),
            trace_state=r["trace_state"] or None, scope_name=r["scope_name"], scope_version=r["scope_version"],
            flags=r["flags"], scope_attributes=_json(r["scope_attributes"], {}),
            scope_schema_url=r["scope_schema_url"], resource_schema_url=r["resource_schema_url"],
        )
        for r in table.to_pylist()
    ]
    spans.sort(key=lambda s: (s.trace_id, s.start_ns, s.span_id))
    return spans


def by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans grouped by trace id, keeping first-seen order of traces and of spans."""
    grouped: dict[str, list[Span]] = {}
    for span in spans:
        grouped.setdefault(span.trace_id, []).append(span)
    return grouped


def trace_bounds(spans: Sequence[Span]) -> tuple[int, int]:
    """(earliest start, latest end) in unix ns; (0, 0) for no spans."""
    if not spans:
        return 0, 0
    return min(s.start_ns for s in spans), max(s.end_ns for s in spans)
