"""Fuzzing the OTLP decoders: protobuf, JSON, gzip (one member or several) and deflate, in process and
through a real backend's HTTP and gRPC receivers.

What must hold for every body, well-formed or broken:
- the decoders answer with spans or a DecodeError/BodyTooLargeError, never another exception, and in
  bounded time (hypothesis' deadline);
- whatever validation accepts can be turned into store columns (else an acknowledged span would be
  a poison pill in the spool);
- a well-formed request loses no span: accepted + rejected = sent;
- the backend answers every body with 200, 400, 413 or 415 (never 5xx), and stores every span it
  accepted from a well-formed request exactly once;
- through the backend, start and end times are drawn from the whole uint64 range and its edges
  (0, 1, 2^63-1, 2^63, 2^64-1, end before start): what is past the store's range is refused with
  partial success (rejected_spans as the in-process decoding counts them), and every trace that was
  acknowledged reads back whole through the Jaeger APIs (v1 and v3) and the UI's trace page.

`make test` runs a fixed, derandomized sample (a few seconds); `make fuzz` runs many more random
examples (TRACEHOUSE_FUZZ_SCALE multiplies the counts; TRACEHOUSE_FUZZ_RANDOM=1 draws new ones).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from tests.backend.otlp_requests import JSON, PROTOBUF
from tests.security.conftest import SecureBackend, SecureBackendFactory

from tracehouse.otlp.columns import decode_payloads
from tracehouse.otlp.compression import decompress
from tracehouse.otlp.errors import BodyTooLargeError, DecodeError
from tracehouse.otlp.prepare import PreparedExport, prepare

from .strategies import ANY_UINT64_NS, Body, bodies, compress, encode

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


def accepted_spans(prepared: PreparedExport) -> list[tuple[str, str]]:
    """(trace id, span id) in hex of every span validation accepted."""
    request = ExportTraceServiceRequest.FromString(prepared.payload)
    return [(s.trace_id.hex(), s.span_id.hex()) for rs in request.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def rejected_in(response_body: bytes, content_type: str) -> int:
    """partial_success.rejected_spans of an export's answer."""
    if content_type == JSON:
        return int((orjson.loads(response_body or b"{}").get("partialSuccess") or {}).get("rejectedSpans", 0))
    return ExportTraceServiceResponse.FromString(response_body).partial_success.rejected_spans


def _reads_back(backend: SecureBackend, traces: dict[str, set[str]]) -> None:
    """Every acknowledged trace reads back, with each of its acknowledged spans, through the Jaeger
    API v1 and v3 and the UI's trace page (a time at an edge of the range once made reading a trace 500)."""
    with backend.client() as client:
        for trace_id, span_ids in traces.items():
            v1 = client.get(f"{backend.query_url}/api/traces/{trace_id}")
            assert v1.status_code == 200, (trace_id, v1.status_code, v1.text[:500])
            found = {s["spanID"] for t in v1.json()["data"] for s in t["spans"]}
            assert span_ids <= found, (trace_id, span_ids - found)
            v3 = client.get(f"{backend.query_url}/api/v3/traces/{trace_id}")
            assert v3.status_code == 200, (trace_id, v3.status_code, v3.text[:500])
            page = client.get(f"{backend.query_url}/trace/{trace_id}")
            assert page.status_code == 200, (trace_id, page.status_code, page.text[:500])


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
        traces: dict[str, set[str]] = {}
        backend.info["traces"] = traces
        yield backend
        # Every span accepted from a well-formed request, stored exactly once.
        if expected:
            backend.wait_stored(expected, timeout=60)
            counts = backend.sql("SELECT span_id, count(*) FROM spans WHERE list_contains(string_split(?, ','), "
                                 "span_id) GROUP BY span_id HAVING count(*) > 1", [",".join(expected)])
            assert counts == [], f"spans stored more than once: {counts[:5]}"
            _reads_back(backend, traces)
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


def _expect(server: SecureBackend, prepared: PreparedExport) -> None:
    for trace_id, span_id in accepted_spans(prepared):
        server.info["expected"].append(span_id)
        server.info["traces"].setdefault(trace_id, set()).add(span_id)


@given(bodies(ANY_UINT64_NS), st.data())
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
    if prepared is not None:
        # Refusal with partial success where the in-process decoding refuses (times past 2262 ...).
        assert rejected_in(response.content, body.content_type) == prepared.rejected, response.text[:500]
    if prepared is not None and not body.mutated:
        _expect(server, prepared)


@given(bodies(ANY_UINT64_NS), st.booleans())
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
    answer = b""
    try:
        answer = call(body.content, timeout=30, compression=compression)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), code
    prepared = decode(body)
    assert (code == grpc.StatusCode.OK) == (prepared is not None), code
    if prepared is not None:
        assert rejected_in(answer, PROTOBUF) == prepared.rejected
    if prepared is not None and not body.mutated:
        _expect(server, prepared)


MAX_NS = 9_214_646_400_000_000_000   # 2262-01-01: the store's last time (otlp/walk.py)
EDGE_TIMES = [(0, 0), (0, 1), (1, 0), (2**63 - 1, 2**63 - 1), (2**63, 2**63), (2**64 - 1, 2**64 - 1), (0, 2**64 - 1),
              (2**64 - 1, 0), (MAX_NS, MAX_NS), (MAX_NS + 1, MAX_NS), (MAX_NS, 0),
              (1_700_000_000_000_000_000, 1_600_000_000_000_000_000)]   # and end before start


@pytest.mark.parametrize("protocol", ["http-protobuf", "http-json", "grpc"])
def test_times_at_every_edge_of_uint64_are_refused_with_partial_success_or_stored_and_read_back(
        server: SecureBackend, protocol: str) -> None:
    """One span per (start, end) pair of EDGE_TIMES, each with events at the same edges, in one trace
    of one request: a span with a time past 2262-01-01 is refused (partial success, counted), every
    other one is stored and its trace reads back (the fixture's teardown reads every trace too)."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    trace_id = os.urandom(15) + b"\x02"
    for start, end in EDGE_TIMES:
        span = scope.spans.add(trace_id=trace_id, span_id=os.urandom(7) + b"\x02", name=f"{start}-{end}",
                               start_time_unix_nano=start, end_time_unix_nano=end)
        for t in (0, 2**63 - 1, 2**64 - 1, start):
            span.events.add(name=f"at {t}", time_unix_nano=t)
    refused = sum(1 for start, end in EDGE_TIMES if max(start, end) > MAX_NS)
    body = Body(request.SerializeToString() if protocol != "http-json" else encode(request, JSON),
                JSON if protocol == "http-json" else PROTOBUF, None, False)
    prepared = decode(body)
    assert prepared is not None and prepared.rejected == refused and prepared.spans == len(EDGE_TIMES) - refused
    if protocol == "grpc":
        with grpc.insecure_channel(server.otlp_grpc) as channel:
            answer = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)(
                body.content, timeout=30)
        assert rejected_in(answer, PROTOBUF) == refused
    else:
        response = server.post_traces(body.content, body.headers, body.content_type)
        assert response.status_code == 200, response.text[:500]
        assert rejected_in(response.content, body.content_type) == refused, response.text[:500]
    _expect(server, prepared)
    ids = [span_id for _, span_id in accepted_spans(prepared)]
    server.wait_stored(ids, timeout=60)
    _reads_back(server, {trace_id.hex(): set(ids)})
