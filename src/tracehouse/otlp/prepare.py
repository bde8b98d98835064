"""The receive-time half of decoding: parse, validate, and produce the bytes to store durably.

A request is acknowledged once its validated protobuf is in the spool, so everything that could
make a span unstorable is checked here, before the acknowledgement: id lengths and all-zero ids,
timestamps past the store's range, nesting beyond the parser's limit, and the byte caps of
otlp/limits.py (oversized values truncated, oversized spans refused). A large request is stored as
several records of bounded size, so no later step has to take it whole. The expensive part —
walking every attribute into columns — happens later, off the request path (columns.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.json import request_from_json
from tracehouse.otlp.limits import SpanLimits, limit_resource, limit_span, warning_message
from tracehouse.otlp.protobuf import parse_request
from tracehouse.otlp.retention_window import oldest_kept_ns, too_old_reason
from tracehouse.otlp.walk import rejection_message, span_problem
from tracehouse.otlp.wire_split import split_request

DEFAULT_LIMITS = SpanLimits()


@dataclass(frozen=True)
class PreparedExport:
    """A validated request as records to spool: each a serialized ExportTraceServiceRequest holding
    only valid spans, with its span count."""

    records: tuple[tuple[bytes, int], ...]
    spans: int
    rejected: int
    error_message: str

    @property
    def payload(self) -> bytes:
        """The one record's payload (requests small enough not to be split; b"" when empty)."""
        if len(self.records) > 1:
            raise ValueError("this request was split into several records")
        return self.records[0][0] if self.records else b""


def _validate(request: ExportTraceServiceRequest, counts: dict[str, int], limits: SpanLimits, big: bool,
              notes: dict[str, int], retention_seconds: int = 0) -> tuple[int, bool]:
    """Count valid spans; drop invalid ones from `request` in place, apply the limits to the others.
    Returns (valid, changed). With a retention window, spans that started before it are invalid too
    (retention_window.py)."""
    valid = 0
    changed = False
    oldest = oldest_kept_ns(retention_seconds)
    for resource_spans in request.resource_spans:
        if big and limit_resource(resource_spans.resource, limits):
            reason = f"resource attribute values truncated to {limits.attribute_value_max_bytes:,} bytes"
            notes[reason] = notes.get(reason, 0) + sum(len(s.spans) for s in resource_spans.scope_spans)
            changed = True
        for scope_spans in resource_spans.scope_spans:
            bad: list[int] = []
            for index, span in enumerate(scope_spans.spans):
                problem = span_problem(span)
                if problem is None and oldest is not None and span.start_time_unix_nano < oldest:
                    problem = too_old_reason(retention_seconds)
                if problem is None:
                    problem, limited = limit_span(span, limits, big, notes)
                    changed = changed or limited
                if problem is None:
                    valid += 1
                else:
                    counts[problem] = counts.get(problem, 0) + 1
                    bad.append(index)
            for index in reversed(bad):
                del scope_spans.spans[index]
            changed = changed or bool(bad)
    return valid, changed


def _records(request: ExportTraceServiceRequest, limits: SpanLimits) -> list[tuple[bytes, int]]:
    """The request as records of at most record_max_spans spans and about record_max_bytes each."""
    records: list[tuple[bytes, int]] = []
    part = ExportTraceServiceRequest()
    spans = 0
    size = 0

    def flush() -> None:
        nonlocal part, spans, size
        if spans:
            records.append((part.SerializeToString(), spans))
        part, spans, size = ExportTraceServiceRequest(), 0, 0

    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            target = None
            for span in scope_spans.spans:
                span_size = span.ByteSize()
                if spans and (spans >= limits.record_max_spans or size + span_size > limits.record_max_bytes):
                    flush()
                    target = None
                if target is None:
                    rs = part.resource_spans.add()
                    rs.resource.CopyFrom(resource_spans.resource)
                    rs.schema_url = resource_spans.schema_url
                    target = rs.scope_spans.add()
                    target.scope.CopyFrom(scope_spans.scope)
                    target.schema_url = scope_spans.schema_url
                target.spans.add().CopyFrom(span)
                spans += 1
                size += span_size
    flush()
    return records


def _prepared(request: ExportTraceServiceRequest, body: bytes | None, counts: dict[str, int],
              limits: SpanLimits, notes: dict[str, int], retention_seconds: int = 0
              ) -> tuple[list[tuple[bytes, int]], int]:
    """Validate `request` (parsed from `body`, if given); its records and valid spans. Refusals are
    counted in `counts`, changes in `notes`."""
    size = len(body) if body is not None else request.ByteSize()
    # Below the smallest byte cap no value or span can pass one: skip the per-value checks.
    big = size > min(limits.attribute_value_max_bytes, limits.span_max_bytes)
    valid, changed = _validate(request, counts, limits, big, notes, retention_seconds)
    if not valid:
        return [], 0
    if valid > limits.record_max_spans or size > limits.record_max_bytes:
        return _records(request, limits), valid
    # Unchanged bodies are stored as received: no re-serialisation on the hot path.
    return [(body if body is not None and not changed else request.SerializeToString(), valid)], valid


def _export(records: list[tuple[bytes, int]], valid: int, counts: dict[str, int],
            notes: dict[str, int]) -> PreparedExport:
    message = " ".join(m for m in (rejection_message(counts), warning_message(notes)) if m)
    return PreparedExport(tuple(records), valid, sum(counts.values()), message)


def prepare_protobuf(body: bytes, limits: SpanLimits = DEFAULT_LIMITS, retention_seconds: int = 0) -> PreparedExport:
    counts: dict[str, int] = {}
    notes: dict[str, int] = {}
    if len(body) > limits.record_max_bytes:
        # A large body is cut into bounded parts on the wire, each parsed and checked on its own:
        # parsing 1M spans at once would take the backend ~175 MB more (wire_split.py).
        parts = split_request(body, limits.record_max_spans, limits.record_max_bytes)
        if parts is not None and len(parts) > 1:
            records: list[tuple[bytes, int]] = []
            valid = 0
            for part in parts:
                part_records, part_valid = _prepared(parse_request(part), part, counts, limits, notes,
                                                     retention_seconds)
                records += part_records
                valid += part_valid
            return _export(records, valid, counts, notes)
    records, valid = _prepared(parse_request(body), body, counts, limits, notes, retention_seconds)
    return _export(records, valid, counts, notes)


def prepare_json(body: bytes, limits: SpanLimits = DEFAULT_LIMITS, retention_seconds: int = 0) -> PreparedExport:
    request, counts = request_from_json(body)
    serialized = request.SerializeToString()
    # Parse back once so JSON obeys exactly the protobuf parser's limits (nesting depth).
    request = parse_request(serialized)
    notes: dict[str, int] = {}
    records, valid = _prepared(request, serialized, counts, limits, notes, retention_seconds)
    return _export(records, valid, counts, notes)


def prepare(body: bytes, content_type: str, limits: SpanLimits = DEFAULT_LIMITS,
            retention_seconds: int = 0) -> PreparedExport:
    if content_type == "application/json":
        return prepare_json(body, limits, retention_seconds)
    if content_type == "application/x-protobuf":
        return prepare_protobuf(body, limits, retention_seconds)
    raise DecodeError(f"unsupported content type {content_type!r}")
