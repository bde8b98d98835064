"""OTLP-JSON (the `TracesData` message in OTLP's JSON encoding), as Jaeger's v3 API returns traces.

Ids are hex, 64-bit integers and timestamps are decimal strings, enums are numbers, and spans are
grouped by resource (service) and instrumentation scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tracehouse.model import SPAN_KINDS, STATUS_CODES
from tracehouse.query.spans import Span


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {}


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items()]


def _link(link: dict[str, Any]) -> dict[str, Any]:
    out = {"traceId": link.get("trace_id") or "", "spanId": link.get("span_id") or "",
           "traceState": link.get("trace_state") or "", "attributes": key_values(link.get("attributes") or {})}
    if link.get("flags"):
        out["flags"] = link["flags"]
    return out


def _span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.span_name,
        "kind": SPAN_KINDS.index(span.span_kind) if span.span_kind in SPAN_KINDS else 0,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        "events": [{"timeUnixNano": str(int(e.get("time_unix_nano") or 0)), "name": e.get("name") or "",
                    "attributes": key_values(e.get("attributes") or {})} for e in span.events],
        "links": [_link(link) for link in span.links],
        "status": {"code": STATUS_CODES.index(span.status_code) if span.status_code in STATUS_CODES else 0},
    }
    if span.flags:
        out["flags"] = span.flags
    if span.parent_span_id:
        # Absent for a root rather than "": the Jaeger UI's schema refuses an empty span id.
        out["parentSpanId"] = span.parent_span_id
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.status_message:
        out["status"]["message"] = span.status_message
    return out


def traces_data(spans: Sequence[Span]) -> dict[str, Any]:
    """`{"resourceSpans": [...]}` for the spans of one or several traces."""
    resources: dict[bytes, dict[str, Any]] = {}
    scopes: dict[bytes, list[dict[str, Any]]] = {}
    for span in spans:
        attributes = dict(span.resource_attributes)
        attributes.setdefault("service.name", span.service_name)
        key = orjson.dumps([attributes, span.resource_schema_url], option=orjson.OPT_SORT_KEYS)
        resource = resources.get(key)
        if resource is None:
            resource = resources[key] = {"resource": {"attributes": key_values(attributes)}, "scopeSpans": []}
            if span.resource_schema_url:
                resource["schemaUrl"] = span.resource_schema_url
        scope_key = key + orjson.dumps([span.scope_name, span.scope_version, span.scope_attributes,
                                        span.scope_schema_url], option=orjson.OPT_SORT_KEYS)
        scope_spans = scopes.get(scope_key)
        if scope_spans is None:
            scope_spans = scopes[scope_key] = []
            scope: dict[str, Any] = {}
            if span.scope_name:
                scope["name"] = span.scope_name
            if span.scope_version:
                scope["version"] = span.scope_version
            if span.scope_attributes:
                scope["attributes"] = key_values(span.scope_attributes)
            group: dict[str, Any] = {"scope": scope, "spans": scope_spans}
            if span.scope_schema_url:
                group["schemaUrl"] = span.scope_schema_url
            resource["scopeSpans"].append(group)
        scope_spans.append(_span(span))
    return {"resourceSpans": list(resources.values())}
