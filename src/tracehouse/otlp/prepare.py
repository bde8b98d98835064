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
from tracehouse.otlp.walk import rejection_message, span_problem


@dataclass(frozen=True)
class PreparedExport:
    """A validated request: `payload` is a serialized ExportTraceServiceRequest holding only valid spans."""

    payload: bytes
    spans: int
    rejected: int
    error_message: str


def _validate(request: ExportTraceServiceRequest, counts: dict[str, int]) -> tuple[int, bool]:
    """Count valid spans; drop invalid ones from `request` in place. Returns (valid, changed)."""
    valid = 0
    changed = False
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            bad: list[int] = []
            for index, span in enumerate(scope_spans.spans):
                problem = span_problem(span)
                if problem is None:
                    valid += 1
                else:
                    counts[problem] = counts.get(problem, 0) + 1
                    bad.append(index)
            for index in reversed(bad):
                del scope_spans.spans[index]
            changed = changed or bool(bad)
    return valid, changed


def prepare_protobuf(body: bytes) -> PreparedExport:
    request = parse_request(body)
    counts: dict[str, int] = {}
    valid, changed = _validate(request, counts)
    # Unchanged bodies are stored as received: no re-serialisation on the hot path.
    payload = request.SerializeToString() if changed else body
    return PreparedExport(payload, valid, sum(counts.values()), rejection_message(counts))


def prepare_json(body: bytes) -> PreparedExport:
    request, counts = request_from_json(body)
    serialized = request.SerializeToString()
    # Parse back once so JSON obeys exactly the protobuf parser's limits (nesting depth).
    request = parse_request(serialized)
    valid, changed = _validate(request, counts)
    payload = request.SerializeToString() if changed else serialized
    return PreparedExport(payload, valid, sum(counts.values()), rejection_message(counts))


def prepare(body: bytes, content_type: str) -> PreparedExport:
    if content_type == "application/json":
        return prepare_json(body)
    if content_type == "application/x-protobuf":
        return prepare_protobuf(body)
    raise DecodeError(f"unsupported content type {content_type!r}")
