"""OTLP/JSON bodies (HTTP application/json).

OTLP/JSON is not the protobuf JSON mapping: ids are hex, not base64. We rewrite the ids to base64
and let protobuf's own JSON parser do the rest (camelCase or snake_case names, int64 as strings or
numbers, integer enums, unknown fields ignored), then share the protobuf walk and its validation.
Spans whose ids are not hex are dropped here and reported through partial success.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.errors import DecodeError

if TYPE_CHECKING:
    from tracehouse.otlp.columns import DecodedBatch

_ID_FIELDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))


class _BadId(Exception):
    def __init__(self, field: str) -> None:
        self.field = field


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _hex_to_b64(value: Any, field: str) -> str:
    # bytes.fromhex alone would accept embedded spaces; OTLP ids are plain hex.
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise _BadId(field)
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _fix_ids(holder: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> None:
    for camel, snake in fields:
        for key in (camel, snake):
            if key in holder:
                holder[key] = _hex_to_b64(holder[key], snake)


def _list(holder: dict[str, Any], camel: str, snake: str) -> list[Any]:
    value = holder.get(camel, holder.get(snake))
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"field {camel!r} must be a JSON array")
    return value


def _rewrite_ids(doc: dict[str, Any]) -> dict[str, int]:
    rejected: dict[str, int] = {}
    for resource_spans in _list(doc, "resourceSpans", "resource_spans"):
        if not isinstance(resource_spans, dict):
            raise DecodeError("resourceSpans entries must be JSON objects")
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            if not isinstance(scope_spans, dict):
                raise DecodeError("scopeSpans entries must be JSON objects")
            spans = _list(scope_spans, "spans", "spans")
            kept = []
            for span in spans:
                if not isinstance(span, dict):
                    raise DecodeError("spans entries must be JSON objects")
                try:
                    _fix_ids(span, _ID_FIELDS)
                    for link in _list(span, "links", "links"):
                        if isinstance(link, dict):
                            _fix_ids(link, _ID_FIELDS[:2])
                except _BadId as bad:
                    reason = f"a {bad.field.replace('_', ' ')} that is not a hex string"
                    rejected[reason] = rejected.get(reason, 0) + 1
                    continue
                kept.append(span)
            if "spans" in scope_spans:
                scope_spans["spans"] = kept
    return rejected


def request_from_json(body: bytes) -> tuple[ExportTraceServiceRequest, dict[str, int]]:
    """The request as a protobuf message, and the spans dropped for non-hex ids (reason -> count)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("body must be a JSON object (an OTLP ExportTraceServiceRequest)")
    rejected = _rewrite_ids(doc)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, binascii.Error, TypeError, ValueError) as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}") from exc
    return request, rejected


def decode_json(body: bytes) -> DecodedBatch:
    from tracehouse.otlp.columns import to_columns  # pyarrow: not on the receivers' start-up path

    request, rejected = request_from_json(body)
    return to_columns(request, rejected)
