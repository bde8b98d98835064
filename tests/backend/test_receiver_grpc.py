"""OTLP/gRPC receiver rules against a real backend: the OTel gRPC exporter, the generated stub, and a
raw channel with identity serializers for bytes that are not a valid message."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from .conftest import Backend, BackendFactory, PeakRss
from .otlp_requests import deep_protobuf_request, fbaas_request, good_span, raw_span_request, span_id, trace_id
from .sdk import GrpcExporter, emit_traces, provider

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SMALL_CAP = 1 << 20


@pytest.fixture(scope="module")
def server(module_backends: BackendFactory) -> Iterator[Backend]:
    backend = module_backends()
    yield backend
    assert backend.alive(), "the backend died during the tests"
    assert "Traceback" not in backend.log(), backend.log()[-3000:]
    assert backend.stop() == 0


@pytest.fixture(scope="module")
def small(module_backends: BackendFactory) -> Iterator[Backend]:
    backend = module_backends("--max-body", str(SMALL_CAP))
    yield backend
    assert backend.stop() == 0


@pytest.fixture
def channel(server: Backend) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.otlp_grpc) as ch:
        yield ch


def raw_export(channel: grpc.Channel, body: bytes, compression: grpc.Compression | None = None) -> bytes:
    """Send `body` as the Export request as is (identity serializers: no parsing on our side)."""
    call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    result: bytes = call(body, timeout=30, compression=compression)
    return result


def export(channel: grpc.Channel, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    response: ExportTraceServiceResponse = TraceServiceStub(channel).Export(request, timeout=30)
    return response


def rpc_error(call: object) -> grpc.RpcError:
    assert isinstance(call, grpc.RpcError)
    return call


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip], ids=["none", "gzip"])
def test_otel_grpc_exporter_spans_are_stored_faithfully(server: Backend, compression: grpc.Compression) -> None:
    exporter = GrpcExporter(endpoint=server.otlp_grpc, insecure=True, compression=compression, timeout=30)
    tp = provider(exporter, "sdk-grpc")
    ids = emit_traces(tp, traces=40, error_every=8)
    assert tp.force_flush(30_000)
    tp.shutdown()
    server.wait_stored(ids)
    rows = server.sql(
        "SELECT span_kind, count(*), count(DISTINCT trace_id), count(parent_span_id), "
        "count(*) FILTER (WHERE status_code = 'ERROR'), count(events), min(service_name), max(service_name) "
        "FROM spans WHERE span_id IN :ids GROUP BY ALL ORDER BY 1", ids=ids)
    assert rows == [["CLIENT", 80, 40, 80, 0, 0, "sdk-grpc", "sdk-grpc"],
                    ["SERVER", 40, 40, 0, 5, 5, "sdk-grpc", "sdk-grpc"]]


def test_fbaas_request_through_the_stub(server: Backend, channel: grpc.Channel) -> None:
    built = fbaas_request(25)
    response = export(channel, built.request)
    assert not response.HasField("partial_success")
    server.wait_stored(built.span_ids)


def test_empty_request_succeeds(server: Backend, channel: grpc.Channel) -> None:
    assert raw_export(channel, b"") == b""
    response = export(channel, ExportTraceServiceRequest())
    assert not response.HasField("partial_success")


def test_garbage_gets_invalid_argument_with_bad_request_details(server: Backend, channel: grpc.Channel) -> None:
    built = fbaas_request(20)
    body = built.protobuf()
    for garbage in (b"\x0a\xff\xff\xff\xff\x0f not a message", body[: len(body) // 2], body[:-1]):
        with pytest.raises(grpc.RpcError) as info:
            raw_export(channel, garbage)
        error = rpc_error(info.value)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "protobuf" in (error.details() or "")
        status = rpc_status.from_call(error)
        assert status is not None and status.code == code_pb2.INVALID_ARGUMENT
        bad = error_details_pb2.BadRequest()
        assert [d.Unpack(bad) for d in status.details] == [True]
        assert bad.field_violations[0].description
    server.assert_absent(built.span_ids)


def test_partial_success(server: Backend, channel: grpc.Channel) -> None:
    good = [good_span("good-1"), good_span("good-2")]
    bad = [good_span("bad") for _ in range(3)]
    bad[0].trace_id = bytes(16)
    bad[1].span_id = span_id()[:7]
    bad[2].trace_id = trace_id() + b"\x00"
    response = export(channel, raw_span_request([bad[0], good[0], bad[1], good[1], bad[2]]))
    assert response.partial_success.rejected_spans == 3
    assert "rejected 3 span(s)" in response.partial_success.error_message
    assert "all-zero trace id" in response.partial_success.error_message
    server.wait_stored([s.span_id.hex() for s in good])
    server.assert_absent([bad[0].span_id.hex(), bad[2].span_id.hex()])


def test_absurdly_deep_value_gets_invalid_argument(server: Backend, channel: grpc.Channel) -> None:
    body, sid = deep_protobuf_request(500)
    with pytest.raises(grpc.RpcError) as info:
        raw_export(channel, body)
    assert rpc_error(info.value).code() == grpc.StatusCode.INVALID_ARGUMENT
    server.assert_absent([sid])


def test_a_resent_request_is_stored_once(server: Backend, channel: grpc.Channel) -> None:
    built = fbaas_request(10)
    for _ in range(3):
        export(channel, built.request)
    raw_export(channel, built.protobuf(), compression=grpc.Compression.Gzip)
    server.wait_stored(built.span_ids)  # insists on exactly one row per span
    assert server.scalar("SELECT count(*) FROM spans WHERE trace_id IN :t", t=built.trace_ids) == 50


def test_too_large_and_gzip_bomb_get_resource_exhausted(small: Backend) -> None:
    built = fbaas_request(1)
    built.request.resource_spans[0].scope_spans[0].spans[0].attributes.add(
        key="pad").value.string_value = "x" * (2 * SMALL_CAP)
    with grpc.insecure_channel(small.otlp_grpc) as ch:
        with pytest.raises(grpc.RpcError) as info:
            raw_export(ch, built.protobuf())
        assert rpc_error(info.value).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # 256 MiB of zeros, gzip-compressed by grpc itself: refused at the cap once inflated.
        bomb = bytes(256 * 2**20)
        with PeakRss(small.pid) as rss, pytest.raises(grpc.RpcError) as info:
            raw_export(ch, bomb, compression=grpc.Compression.Gzip)
        del bomb
        assert rpc_error(info.value).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert rss.growth < 64 * 2**20, f"RSS grew by {rss.growth / 2**20:.0f} MiB"
        fits = fbaas_request(3)
        assert raw_export(ch, fits.protobuf()) == b""
    small.wait_stored(fits.span_ids)
    small.assert_absent(built.span_ids)
