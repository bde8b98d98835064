"""Large protobuf requests are cut into bounded parts on the wire: every span once, in order, with
its own resource and scope; the parts obey the caps; truncated bodies are refused as before."""

from __future__ import annotations

import pytest
from bench.fbaas_shape import RequestFactory
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracehouse.otlp.errors import DecodeError
from tracehouse.otlp.limits import SpanLimits
from tracehouse.otlp.prepare import prepare_protobuf
from tracehouse.otlp.wire_split import split_request


def _spans(body: bytes) -> list[tuple[str, str, str, bytes]]:
    request = ExportTraceServiceRequest.FromString(body)
    return [(rs.resource.attributes[0].value.string_value, rs.schema_url, ss.scope.name, span.span_id)
            for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _request() -> bytes:
    request = ExportTraceServiceRequest.FromString(RequestFactory(500).next_body())
    request.resource_spans[1].schema_url = "https://opentelemetry.io/schemas/1.26.0"
    extra = request.resource_spans[2].scope_spans.add()
    extra.scope.name = "second scope"
    extra.spans.extend(request.resource_spans[0].scope_spans[0].spans[:7])
    return request.SerializeToString()


@pytest.mark.parametrize(("max_spans", "max_bytes"), [(50, 1 << 20), (10_000, 8_000), (1, 1 << 20)])
def test_every_span_once_in_order_with_its_resource_and_scope(max_spans: int, max_bytes: int) -> None:
    body = _request()
    parts = split_request(body, max_spans, max_bytes)
    assert parts is not None and len(parts) > 1
    assert [s for part in parts for s in _spans(part)] == _spans(body)
    for part in parts:
        request = ExportTraceServiceRequest.FromString(part)
        spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        assert 1 <= len(spans) <= max_spans
        assert len(spans) == 1 or sum(span.ByteSize() for span in spans) <= max_bytes


def test_prepare_stores_a_large_request_as_bounded_records() -> None:
    factory = RequestFactory(500)
    request = ExportTraceServiceRequest()
    for _ in range(30):
        request.MergeFromString(factory.next_body())
    body = request.SerializeToString()
    limits = SpanLimits(record_max_spans=2048, record_max_bytes=1 << 20)
    prepared = prepare_protobuf(body, limits)
    assert prepared.spans == 15_000 and prepared.rejected == 0
    assert len(prepared.records) >= 8
    assert all(n <= 2048 and len(payload) <= (1 << 20) + 4096 for payload, n in prepared.records)
    assert [s for payload, _ in prepared.records for s in _spans(payload)] == _spans(body)


def test_a_truncated_large_body_is_refused() -> None:
    body = _request()
    with pytest.raises(DecodeError):
        prepare_protobuf(body[:-3], SpanLimits(record_max_bytes=1000))
