"""The receive-time half of decoding: parse, validate, and produce the bytes to store durably.

A request is acknowledged once its validated protobuf is in the spool, so everything that could
make a span unstorable is checked here, before the acknowledgement: id lengths and all-zero ids,
timestamps beyond int64, and nesting beyond the parser's limit. The expensive part — walking every
attribute into columns — happens later, off the request path (columns.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.json import request_from_json
from tracehouse.otlp.protobuf import parse_request
from tracehouse.otlp.retention_window import oldest_kept_ns, too_old_reason
from tracehouse.otlp.walk import rejection_message, span_problem


@dataclass(frozen=True)
class PreparedExport:
    """A validated request: `payload` is a serialized ExportTraceServiceRequest holding only valid spans."""

    payload: bytes
    spans: int
    rejected: int
    error_message: str


def _validate(request: ExportTraceServiceRequest, counts: dict[str, int],
              retention_seconds: int = 0) -> tuple[int, bool]:
    """Count valid spans; drop invalid ones from `request` in place. Returns (valid, changed).
    With a retention window, spans that started before it are invalid too (retention_window.py)."""
    valid = 0
    changed = False
    oldest = oldest_kept_ns(retention_seconds)
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            bad: list[int] = []
            for index, span in enumerate(scope_spans.spans):
                problem = span_problem(span)
                if problem is None and oldest is not None and span.start_time_unix_nano < oldest:
                    problem = too_old_reason(retention_seconds)
                if problem is None:
                    valid += 1
                else:
                    counts[problem] = counts.get(problem, 0) + 1
                    bad.append(index)
            for index in reversed(bad):
                del scope_spans.spans[index]
            changed = changed or bool(bad)
    return valid, changed


def prepare_protobuf(body: bytes, retention_seconds: int = 0) -> PreparedExport:
    request = parse_request(body)
    counts: dict[str, int] = {}
    valid, changed = _validate(request, counts, retention_seconds)
    # Unchanged bodies are stored as received: no re-serialisation on the hot path.
    payload = request.SerializeToString() if changed else body
    return PreparedExport(payload, valid, sum(counts.values()), rejection_message(counts))


def prepare_json(body: bytes, retention_seconds: int = 0) -> PreparedExport:
    request, counts = request_from_json(body)
    serialized = request.SerializeToString()
    # Parse back once so JSON obeys exactly the protobuf parser's limits (nesting depth).
    request = parse_request(serialized)
    valid, changed = _validate(request, counts, retention_seconds)
    payload = request.SerializeToString() if changed else serialized
    return PreparedExport(payload, valid, sum(counts.values()), rejection_message(counts))


def prepare(body: bytes, content_type: str, retention_seconds: int = 0) -> PreparedExport:
    if content_type == "application/json":
        return prepare_json(body, retention_seconds)
    if content_type == "application/x-protobuf":
        return prepare_protobuf(body, retention_seconds)
    raise DecodeError(f"unsupported content type {content_type!r}")
