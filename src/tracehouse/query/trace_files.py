"""Reading a trace file a user uploads: OTLP-JSON (as /api/v3 returns or an exporter writes) or
Jaeger JSON (as /api/traces returns or Jaeger's UI downloads). Nothing is stored."""

from __future__ import annotations

from typing import Any

import orjson

from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.json import decode_json
from tracehouse.query.jaeger import JaegerFormatError, spans_from_jaeger
from tracehouse.query.spans import Span, spans_from_batch


class TraceFileError(ValueError):
    """The file is neither OTLP-JSON nor Jaeger JSON; the message says why."""


def otlp_document(doc: Any) -> dict[str, Any] | None:
    """The TracesData in a parsed JSON document: the document itself, or /api/v3's {"result": ...}."""
    if isinstance(doc, dict):
        if "resourceSpans" in doc or "resource_spans" in doc:
            return doc
        result = doc.get("result")
        if isinstance(result, dict) and ("resourceSpans" in result or "resource_spans" in result):
            return result
    return None


def otlp_spans(body: bytes) -> list[Span]:
    """The spans of an OTLP-JSON document (TracesData, or /api/v3's {"result": TracesData}); [] for
    one without spans. TraceFileError when it is not OTLP-JSON."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TraceFileError(f"the body is not JSON: {exc}") from exc
    otlp = otlp_document(doc)
    if otlp is None:
        raise TraceFileError('not OTLP-JSON trace data: expected {"resourceSpans": [...]}')
    try:
        return spans_from_batch(decode_json(orjson.dumps(otlp)).table)
    except DecodeError as exc:
        raise TraceFileError(str(exc)) from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise TraceFileError(f"not OTLP-JSON trace data: {exc}") from exc


def spans_from_file(body: bytes) -> list[Span]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TraceFileError(f"the file is not JSON: {exc}") from exc
    otlp = otlp_document(doc)
    try:
        spans = spans_from_batch(decode_json(orjson.dumps(otlp)).table) if otlp else spans_from_jaeger(doc)
    except (DecodeError, JaegerFormatError) as exc:
        raise TraceFileError(str(exc)) from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise TraceFileError(f"the file is not a trace this viewer understands: {exc}") from exc
    if not spans:
        raise TraceFileError("the file holds no spans (expected OTLP-JSON resourceSpans or Jaeger JSON)")
    return spans
