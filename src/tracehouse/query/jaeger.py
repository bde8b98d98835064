"""Jaeger's v1 JSON trace format (what /api/traces speaks, and what Jaeger's UI downloads), both ways.

Spans are mapped the way the OpenTelemetry Collector's Jaeger translator maps OTLP: span kind, status
and scope become tags (`span.kind`, `otel.status_code`, `error`, `otel.scope.name`, ...), events
become logs with an `event` field, the parent becomes a CHILD_OF reference and links FOLLOWS_FROM
references, and each distinct resource becomes a process ("p1", "p2", ...). Times are microseconds.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson

from tracehouse.model import SPAN_KINDS
from tracehouse.query.spans import Span

JaegerTag = dict[str, Any]


class JaegerFormatError(ValueError):
    """A document that is not a Jaeger JSON trace; the message says what is wrong."""


def tag(key: str, value: Any) -> JaegerTag:
    """One Jaeger tag with Jaeger's type names; arrays and maps travel as JSON strings."""
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": orjson.dumps(value).decode()}


def jaeger_flags(otlp_flags: int | None) -> int:
    """Jaeger's span flags are the W3C trace flags (1 = sampled): the low byte of OTLP's span flags.
    When that byte is unset — spans stored before schema version 3, and the Python SDK, which sets
    only the remote bits 8-9 — the span is shown sampled (1): an exported span was sampled."""
    return (otlp_flags or 0) & 0xFF or 1


def _span_tags(span: Span) -> list[JaegerTag]:
    tags = [tag(k, v) for k, v in span.attributes.items()]
    if span.span_kind not in ("UNSPECIFIED", ""):
        tags.append(tag("span.kind", span.span_kind.lower()))
    if span.status_code != "UNSET":
        tags.append(tag("otel.status_code", span.status_code))
    if span.status_code == "ERROR":
        tags.append(tag("error", True))
    if span.status_message:
        tags.append(tag("otel.status_description", span.status_message))
    if span.scope_name:
        tags.append(tag("otel.scope.name", span.scope_name))
    if span.scope_version:
        tags.append(tag("otel.scope.version", span.scope_version))
    if span.trace_state:
        tags.append(tag("w3c.tracestate", span.trace_state))
    return tags


def _logs(span: Span) -> list[dict[str, Any]]:
    return [
        {"timestamp": int(event.get("time_unix_nano") or 0) // 1000,
         "fields": [tag("event", event.get("name") or "")]
         + [tag(k, v) for k, v in (event.get("attributes") or {}).items()]}
        for event in span.events
    ]


def _references(span: Span) -> list[dict[str, str]]:
    refs = []
    if span.parent_span_id:
        refs.append({"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_span_id})
    for link in span.links:
        refs.append({"refType": "FOLLOWS_FROM", "traceID": str(link.get("trace_id") or ""),
                     "spanID": str(link.get("span_id") or "")})
    return refs


def jaeger_trace(spans: Sequence[Span]) -> dict[str, Any]:
    """One trace (all `spans` share a trace id) as Jaeger JSON."""
    processes: dict[str, dict[str, Any]] = {}
    process_ids: dict[bytes, str] = {}
    out_spans = []
    for span in spans:
        resource = {k: v for k, v in span.resource_attributes.items() if k != "service.name"}
        key = orjson.dumps([span.service_name, resource], option=orjson.OPT_SORT_KEYS)
        pid = process_ids.get(key)
        if pid is None:
            pid = process_ids[key] = f"p{len(process_ids) + 1}"
            processes[pid] = {"serviceName": span.service_name, "tags": [tag(k, v) for k, v in resource.items()]}
        out_spans.append({
            "traceID": span.trace_id,
            "spanID": span.span_id,
            "operationName": span.span_name,
            "references": _references(span),
            "flags": jaeger_flags(span.flags),
            "startTime": span.start_ns // 1000,
            "duration": span.duration_ns // 1000,
            "tags": _span_tags(span),
            "logs": _logs(span),
            "processID": pid,
            "warnings": None,
        })
    return {"traceID": spans[0].trace_id if spans else "", "spans": out_spans, "processes": processes,
            "warnings": None}


# ---- reading Jaeger JSON (uploads)

_SPAN_TAGS_CONSUMED = {"span.kind", "otel.status_code", "otel.status_description", "error",
                       "otel.scope.name", "otel.scope.version", "otel.library.name", "otel.library.version",
                       "w3c.tracestate"}


def _tag_value(t: Any) -> tuple[str, Any]:
    if not isinstance(t, dict) or not isinstance(t.get("key"), str):
        raise JaegerFormatError("a tag is not an object with a string 'key'")
    value: Any = t.get("value")
    kind = str(t.get("type", "string")).lower()
    if kind == "int64" and not isinstance(value, bool):
        value = int(value)
    elif kind == "float64":
        value = float(value)
    elif kind == "bool" and not isinstance(value, bool):
        value = str(value).lower() == "true"
    elif kind == "binary" and isinstance(value, bytes):
        value = base64.b64encode(value).decode()
    return t["key"], value


def _hex(value: Any, what: str, digits: int) -> str:
    if not isinstance(value, str) or not value or len(value) > digits:
        raise JaegerFormatError(f"{what} must be a hex string of at most {digits} digits")
    try:
        int(value, 16)
    except ValueError:
        raise JaegerFormatError(f"{what} must be a hex string, not {value[:40]!r}") from None
    return value.lower().rjust(digits, "0")


def _jaeger_traces(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        return [t for t in doc["data"] if isinstance(t, dict)]
    if isinstance(doc, dict) and isinstance(doc.get("spans"), list):
        return [doc]
    if isinstance(doc, list):
        return [t for t in doc if isinstance(t, dict)]
    raise JaegerFormatError("not a Jaeger trace: expected {\"data\": [traces]} or a trace with \"spans\"")


def spans_from_jaeger(doc: Any) -> list[Span]:
    """The spans of a Jaeger JSON document: {"data": [trace, ...]}, one trace, or a list of traces."""
    result: list[Span] = []
    for trace in _jaeger_traces(doc):
        processes = trace.get("processes") or {}
        for raw in trace.get("spans") or []:
            if not isinstance(raw, dict):
                raise JaegerFormatError("a span is not a JSON object")
            trace_id = _hex(raw.get("traceID"), "traceID", 32)
            process = raw.get("process") or processes.get(raw.get("processID"), {})
            resource = dict(_tag_value(t) for t in process.get("tags") or [])
            service = str(process.get("serviceName") or "unknown")
            resource["service.name"] = service
            tags = dict(_tag_value(t) for t in raw.get("tags") or [])
            parent = None
            links: list[dict[str, Any]] = []
            for ref in raw.get("references") or []:
                ref_span = _hex(ref.get("spanID"), "references.spanID", 16)
                ref_trace = _hex(ref.get("traceID") or trace_id, "references.traceID", 32)
                if parent is None and ref.get("refType", "CHILD_OF") == "CHILD_OF" and ref_trace == trace_id:
                    parent = ref_span
                else:
                    links.append({"trace_id": ref_trace, "span_id": ref_span, "trace_state": None,
                                  "attributes": {}})
            kind = str(tags.get("span.kind", "")).upper()
            status = str(tags.get("otel.status_code", "")).upper()
            if status not in ("OK", "ERROR"):
                status = "ERROR" if tags.get("error") in (True, "true") else "UNSET"
            events = []
            for log in raw.get("logs") or []:
                fields = dict(_tag_value(t) for t in log.get("fields") or [])
                name = str(fields.pop("event", "log"))
                events.append({"time_unix_nano": int(log.get("timestamp") or 0) * 1000, "name": name,
                               "attributes": fields})
            result.append(Span(
                trace_id=trace_id,
                span_id=_hex(raw.get("spanID"), "spanID", 16),
                parent_span_id=parent,
                service_name=service,
                span_name=str(raw.get("operationName") or ""),
                span_kind=kind if kind in SPAN_KINDS else "UNSPECIFIED",
                start_ns=int(raw.get("startTime") or 0) * 1000,
                duration_ns=max(int(raw.get("duration") or 0), 0) * 1000,
                status_code=status,
                status_message=tags.get("otel.status_description"),
                attributes={k: v for k, v in tags.items() if k not in _SPAN_TAGS_CONSUMED},
                resource_attributes=resource,
                events=events,
                links=links,
                trace_state=tags.get("w3c.tracestate"),
                scope_name=tags.get("otel.scope.name") or tags.get("otel.library.name"),
                scope_version=tags.get("otel.scope.version") or tags.get("otel.library.version"),
                flags=int(raw["flags"]) if isinstance(raw.get("flags"), int) else None,
            ))
    result.sort(key=lambda s: (s.trace_id, s.start_ns, s.span_id))
    return result
