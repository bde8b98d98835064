"""OTLP-JSON to Jaeger JSON, as Jaeger's query service does it for POST /api/transform (the Jaeger UI
opens an OTLP file through it). The document is a TracesData ({"resourceSpans": [...]}), or /api/v3's
{"result": TracesData}; it goes through the receiver's own OTLP/JSON decoder, so its spans are read
exactly as ingested ones are, and come out as query.jaeger writes stored spans. Nothing is stored."""

from __future__ import annotations

from typing import Any

from tracehouse.otlp.errors import DecodeError
from tracehouse.query.jaeger import jaeger_trace
from tracehouse.query.spans import by_trace
from tracehouse.query.trace_files import TraceFileError, otlp_spans


class TransformError(ValueError):
    """The body is not OTLP-JSON trace data; the message says why."""


def jaeger_traces_from_otlp(body: bytes) -> list[dict[str, Any]]:
    """One Jaeger JSON trace per trace id in the OTLP-JSON `body`, in order of first appearance."""
    try:
        spans = otlp_spans(body)
    except (TraceFileError, DecodeError) as exc:
        raise TransformError(str(exc)) from exc
    return [jaeger_trace(trace) for trace in by_trace(spans).values()]
