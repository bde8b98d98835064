"""Fuzzing the OTLP decoders: protobuf, JSON, gzip (one member or several) and deflate, in process and
through a real backend's HTTP and gRPC receivers.

What must hold for every body, well-formed or broken:
- the decoders answer with spans or a DecodeError/BodyTooLargeError, never another exception, and in
  bounded time (hypothesis' deadline);
- whatever validation accepts can be turned into store columns (else an acknowledged span would be
  a poison pill in the spool);
- a well-formed request loses no span: accepted + rejected = sent;
- the backend answers every body with 200, 400, 413 or 415 (never 5xx), and stores every span it
  accepted from a well-formed request exactly once.

`make test` runs a fixed, derandomized sample (a few seconds); `make fuzz` runs many more random
examples (TRACEHOUSE_FUZZ_SCALE multiplies the counts; TRACEHOUSE_FUZZ_RANDOM=1 draws new ones).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tests.backend.otlp_requests import PROTOBUF
from tests.security.conftest import SecureBackend, SecureBackendFactory

from tracehouse.otlp.columns import decode_payloads
from tracehouse.otlp.compression import decompress
from tracehouse.otlp.errors import BodyTooLargeError, DecodeError
from tracehouse.otlp.prepare import PreparedExport, prepare

from .strategies import REALISTIC_NS, Body, bodies, compress, encode

CAP = 1 << 20
SCALE = float(os.environ.get("TRACEHOUSE_FUZZ_SCALE", "1"))
RANDOM = os.environ.get("TRACEHOUSE_FUZZ_RANDOM") == "1"
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def fuzz_settings(examples: int, deadline_ms: int | None) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=deadline_ms, derandomize=not RANDOM,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def decode(body: Body) -> PreparedExport | None:
    """The receiver's decoding, in process: None when the body is refused (as the receiver would, 4xx)."""
    try:
        return prepare(decompress(body.content, body.encoding, CAP), body.content_type)
    except (DecodeError, BodyTooLargeError):
        return None


def accepted_ids(prepared: PreparedExport) -> list[str]:
    request = ExportTraceServiceRequest.FromString(prepared.payload)
    return [s.span_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


@given(bodies())
@fuzz_settings(examples=200, deadline_ms=10_000)
def test_decoders_refuse_cleanly_and_lose_nothing(drawn: tuple[ExportTraceServiceRequest, Body]) -> None:
    request, body = drawn
    prepared = decode(body)
    if prepared is None:
        assert body.mutated, "a well-formed request was refused as a whole"
        return
    if not body.mutated:
        assert prepared.spans + prepared.rejected == span_count(request)
        assert (prepared.rejected > 0) == bool(prepared.error_message)
    # What validation accepted is acknowledged: it must become store columns.
    table, rejected, _ = decode_payloads([prepared.payload])
    assert (table.num_rows if table is not None else 0) == prepared.spans
    assert rejected == 0


# ---- Through a real backend


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBackend]:
    factory = SecureBackendFactory(tmp_path_factory.mktemp("fuzz"))
    try:
        # --retention 0: the drawn start times span 2000-2100, and `decode` (the expectation) applies no
        # retention window; with one, old spans would be refused by validation (partial success).
        backend = factory("--max-body", str(CAP), "--retention", "0")
        expected: list[str] = []
        backend.info["expected"] = expected
        yield backend
        # Every span accepted from a well-formed request, stored exactly once.
        if expected:
            backend.wait_stored(expected, timeout=60)
            counts = backend.sql("SELECT span_id, count(*) FROM spans WHERE list_contains(string_split(?, ','), "
                                 "span_id) GROUP BY span_id HAVING count(*) > 1", [",".join(expected)])
            assert counts == [], f"spans stored more than once: {counts[:5]}"
        if "channel" in backend.info:
            backend.info["channel"].close()
        assert backend.alive(), "the backend died"
        assert "Traceback" not in backend.log(), backend.log()[-3000:]
        assert backend.stop() == 0
    finally:
        factory.close()


def _unique_ids(request: ExportTraceServiceRequest) -> None:
    """Fresh random ids for spans whose ids are valid, so 'stored exactly once' means something."""
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                if len(span.span_id) == 8 and any(span.span_id):
                    span.span_id = os.urandom(7) + b"\x01"
                if len(span.trace_id) == 16 and any(span.trace_id):
                    span.trace_id = os.urandom(15) + b"\x01"


@given(bodies(REALISTIC_NS), st.data())
@fuzz_settings(examples=40, deadline_ms=None)
def test_the_http_receiver_never_fails_and_stores_what_it_accepts(
        server: SecureBackend, drawn: tuple[ExportTraceServiceRequest, Body], data: st.DataObject) -> None:
    request, body = drawn
    if not body.mutated:
        _unique_ids(request)
        cuts = data.draw(st.lists(st.integers(min_value=0), max_size=2)) if body.encoding == "gzip" else []
        body = Body(compress(encode(request, body.content_type), body.encoding, cuts), body.content_type,
                    body.encoding, False)
    response = server.post_traces(body.content, body.headers, body.content_type)
    assert response.status_code in (200, 400, 413, 415), (response.status_code, response.text[:500])
    prepared = decode(body)
    assert (response.status_code == 200) == (prepared is not None), response.text[:500]
    if prepared is not None and not body.mutated:
        server.info["expected"].extend(accepted_ids(prepared))


@given(bodies(REALISTIC_NS), st.booleans())
@fuzz_settings(examples=25, deadline_ms=None)
def test_the_grpc_receiver_never_fails_and_stores_what_it_accepts(
        server: SecureBackend, drawn: tuple[ExportTraceServiceRequest, Body], gzip_call: bool) -> None:
    request, body = drawn
    if body.content_type != PROTOBUF or body.encoding:
        # gRPC carries protobuf; its compression is grpc's own (gzip_call), not a body encoding.
        body = Body(request.SerializeToString(), PROTOBUF, None, False)
    if not body.mutated:
        _unique_ids(request)
        body = Body(request.SerializeToString(), PROTOBUF, None, False)
    compression = grpc.Compression.Gzip if gzip_call else grpc.Compression.NoCompression
    if "channel" not in server.info:  # one channel for the whole run, closed with the backend
        server.info["channel"] = grpc.insecure_channel(server.otlp_grpc)
    call = server.info["channel"].unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    try:
        call(body.content, timeout=30, compression=compression)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), code
    prepared = decode(body)
    assert (code == grpc.StatusCode.OK) == (prepared is not None), code
    if prepared is not None and not body.mutated:
        server.info["expected"].extend(accepted_ids(prepared))
