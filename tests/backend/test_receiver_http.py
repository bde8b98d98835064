"""OTLP/HTTP receiver rules, one by one, against a real backend (rules: docs/receiving.md).

Clients: the official OTel Python HTTP exporter, and hand-built protobuf and OTLP/JSON bodies. Every
malformed body gets its status and an error body in the request's content type, nothing from it is
stored, and the backend keeps serving (`assert_absent` stores a later request to prove both).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from .conftest import Backend, BackendFactory, PeakRss
from .otlp_requests import (
    JSON,
    PROTOBUF,
    deep_json_request,
    deep_protobuf_request,
    fbaas_request,
    good_span,
    gzip_bomb,
    gzipped,
    nested_value,
    otlp_json,
    parse_export_response,
    parse_status,
    raw_span_request,
    span_id,
    trace_id,
)
from .sdk import HttpCompression, HttpExporter, emit_traces, provider

INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
SMALL_CAP = 1 << 20  # --max-body of the `small` backend


@pytest.fixture(scope="module")
def server(module_backends: BackendFactory) -> Iterator[Backend]:
    """A backend with default settings (64 MiB body cap) but no retention, shared by this module's
    tests: some send spans with fixed timestamps from 2023, which retention would refuse."""
    backend = module_backends("--retention", "0")
    yield backend
    assert backend.alive(), "the backend died during the tests"
    assert backend.stop() == 0


@pytest.fixture(scope="module")
def small(module_backends: BackendFactory) -> Iterator[Backend]:
    backend = module_backends("--max-body", str(SMALL_CAP))
    yield backend
    assert backend.stop() == 0


def expect_error(response: httpx.Response, status: int, grpc_code: int, content_type: str, *words: str) -> str:
    """The response is `status` with a google.rpc.Status body in `content_type` naming the problem."""
    assert response.status_code == status, response.content[:300]
    assert response.headers["content-type"].split(";")[0] == content_type
    body = parse_status(response.content, content_type)
    assert body.code == grpc_code
    assert body.message
    for word in words:
        assert word.lower() in body.message.lower(), body.message
    return str(body.message)


# ---- the official exporter ----------------------------------------------------------------------

@pytest.mark.parametrize("compression", [HttpCompression.NoCompression, HttpCompression.Gzip,
                                         HttpCompression.Deflate])
def test_otel_http_exporter_spans_are_stored_faithfully(server: Backend, compression: HttpCompression) -> None:
    tp = provider(HttpExporter(endpoint=server.traces_url, compression=compression, timeout=30), "sdk-http")
    ids = emit_traces(tp, traces=40, error_every=10)
    assert tp.force_flush(30_000)
    tp.shutdown()
    server.wait_stored(ids)
    rows = server.sql(
        "SELECT span_kind, count(*), count(DISTINCT trace_id), count(parent_span_id), "
        "count(*) FILTER (WHERE status_code = 'ERROR'), count(events) "
        "FROM spans WHERE span_id IN :ids GROUP BY ALL ORDER BY 1", ids=ids)
    # 40 SERVER roots (4 of them errors with an exception event), 80 CLIENT children, 40 traces.
    assert rows == [["CLIENT", 80, 40, 80, 0, 0], ["SERVER", 40, 40, 0, 4, 4]]
    root = server.sql(
        "SELECT service_name, span_name, attributes['fizzbuzz.number'], attributes['fbaas.ratio'], "
        "attributes['fbaas.flag'], resource_attributes['service.version'], scope_name "
        "FROM spans WHERE span_id = :id", id=ids[3])[0]
    assert root == ["sdk-http", "GET /fizzbuzz/1", 1, 0.25, True, "1.0.0", "tracehouse.tests"]


# ---- hand-built bodies: what is accepted ---------------------------------------------------------

@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_fbaas_request_is_stored(server: Backend, as_json: bool, gzip: bool) -> None:
    built = fbaas_request(traces=20)
    content_type = JSON if as_json else PROTOBUF
    body = built.json() if as_json else built.protobuf()
    headers = {"Content-Encoding": "gzip"} if gzip else {}
    response = server.post(gzipped(body) if gzip else body, content_type, headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert not parse_export_response(response.content, content_type).HasField("partial_success")
    if as_json:
        assert orjson.loads(response.content) == {}
    server.wait_stored(built.span_ids)
    services = server.sql("SELECT service_name, count(*) FROM spans WHERE trace_id = :t GROUP BY ALL ORDER BY 1",
                          t=built.trace_ids[0])
    assert services == [["buzzer", 1], ["fizzer", 1], ["hub", 3]]


@pytest.mark.parametrize("body", [b"", b"{}", b'{"resourceSpans": []}', b'{"resourceSpans": [{}]}'])
def test_empty_requests_succeed(server: Backend, body: bytes) -> None:
    content_type = PROTOBUF if body == b"" else JSON
    before = server.span_count()
    response = server.post(body, content_type)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert not parse_export_response(response.content, content_type).HasField("partial_success")
    assert server.span_count() == before


def test_json_edge_cases(server: Backend) -> None:
    """OTLP/JSON is not protobuf's JSON mapping: hex ids in any case, integer enums, int64 as strings or
    numbers, unknown fields ignored; bytes values stay base64; links carry hex ids."""
    t1, s1, s2, s3 = trace_id(), span_id(), span_id(), span_id()
    linked_trace, linked_span = trace_id(), span_id()
    doc: dict[str, Any] = {
        "someFutureField": {"x": 1},
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-edge"}}],
                         "droppedAttributesCount": 0, "unknownResourceThing": True},
            "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
            "scopeSpans": [{
                "scope": {"name": "edge-scope", "version": "2.0", "unknownScopeField": []},
                "spans": [
                    {   # uppercase hex ids, 64-bit values as JSON numbers, an empty parent id
                        "traceId": t1.hex().upper(), "spanId": s1.hex().upper(), "parentSpanId": "",
                        "name": "numbers", "kind": 2,
                        "startTimeUnixNano": 1_700_000_000_000_000_000,
                        "endTimeUnixNano": 1_700_000_000_250_000_000,
                        "attributes": [
                            {"key": "int.number", "value": {"intValue": 9007199254740993}},
                            {"key": "int.string", "value": {"intValue": "-42"}},
                            {"key": "double", "value": {"doubleValue": 1.5}},
                            {"key": "bool", "value": {"boolValue": True}},
                            {"key": "bytes", "value": {"bytesValue": base64.b64encode(b"\x00\xffhi").decode()}},
                            {"key": "array", "value": {"arrayValue": {"values": [{"stringValue": "a"},
                                                                                  {"intValue": "2"}]}}},
                            {"key": "map", "value": {"kvlistValue": {"values": [
                                {"key": "inner", "value": {"boolValue": False}}]}}},
                            {"key": "empty", "value": {}},
                        ],
                        "status": {"code": 2, "message": "it broke", "unknownStatusField": 1},
                        "unknownSpanField": "ignored",
                    },
                    {   # 64-bit values as strings, a client child with a link and an event
                        "traceId": t1.hex(), "spanId": s2.hex(), "parentSpanId": s1.hex().upper(),
                        "name": "strings", "kind": 3,
                        "startTimeUnixNano": "1700000000100000000", "endTimeUnixNano": "1700000000200000000",
                        "events": [{"timeUnixNano": "1700000000150000000", "name": "retry",
                                    "attributes": [{"key": "attempt", "value": {"intValue": "2"}}]}],
                        "links": [{"traceId": linked_trace.hex().upper(), "spanId": linked_span.hex(),
                                   "attributes": []}],
                        "status": {},
                    },
                    {   # a kind beyond the enum is kept as UNSPECIFIED rather than refused
                        "traceId": t1.hex(), "spanId": s3.hex(), "parentSpanId": s1.hex(), "name": "odd kind",
                        "kind": 9, "startTimeUnixNano": "1700000000100000000",
                        "endTimeUnixNano": "1700000000100000000",
                    },
                ],
            }],
        }],
    }
    response = server.post(orjson.dumps(doc), "application/json; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert orjson.loads(response.content) == {}
    server.wait_stored([s1.hex(), s2.hex(), s3.hex()])
    rows = server.sql(
        "SELECT span_id, parent_span_id, trace_id, span_kind, duration_ns, status_code, status_message, "
        "service_name, scope_name, scope_version, epoch_ns(start_time) "
        "FROM spans WHERE trace_id = :t ORDER BY start_time, span_name", t=t1.hex())
    assert rows == [
        [s1.hex(), None, t1.hex(), "SERVER", 250_000_000, "ERROR", "it broke", "json-edge", "edge-scope", "2.0",
         1_700_000_000_000_000_000],
        [s3.hex(), s1.hex(), t1.hex(), "UNSPECIFIED", 0, "UNSET", None, "json-edge", "edge-scope", "2.0",
         1_700_000_000_100_000_000],
        [s2.hex(), s1.hex(), t1.hex(), "CLIENT", 100_000_000, "UNSET", None, "json-edge", "edge-scope", "2.0",
         1_700_000_000_100_000_000],
    ]
    attrs = server.scalar("SELECT attributes FROM spans WHERE span_id = :s", s=s1.hex())
    assert attrs == {
        "int.number": 9007199254740993, "int.string": -42, "double": 1.5, "bool": True,
        "bytes": base64.b64encode(b"\x00\xffhi").decode(), "array": ["a", 2], "map": {"inner": False},
        "empty": None,
    }
    events, links = server.sql("SELECT events, links FROM spans WHERE span_id = :s", s=s2.hex())[0]
    assert [(e["name"], e["time_unix_nano"], e["attributes"]) for e in events] == [
        ("retry", 1_700_000_000_150_000_000, {"attempt": 2})]
    assert [(link["trace_id"], link["span_id"]) for link in links] == [(linked_trace.hex(), linked_span.hex())]


# ---- partial success ---------------------------------------------------------------------------

def test_partial_success_protobuf_keeps_the_valid_spans(server: Backend) -> None:
    good = [good_span("good-1"), good_span("good-2")]
    bad = [good_span("bad") for _ in range(5)]
    bad[0].trace_id = trace_id()[:15]
    bad[1].span_id = span_id() + b"\x01"
    bad[2].trace_id = bytes(16)
    bad[3].span_id = bytes(8)
    bad[4].parent_span_id = b"\x01\x02\x03"
    request = raw_span_request([good[0], *bad, good[1]])
    response = server.post(request.SerializeToString())
    assert response.status_code == 200
    assert response.headers["content-type"] == PROTOBUF
    partial = parse_export_response(response.content, PROTOBUF).partial_success
    assert partial.rejected_spans == 5
    message = partial.error_message
    for words in ("trace id of 15 bytes", "span id of 9 bytes", "all-zero trace id", "all-zero span id",
                  "parent span id of 3 bytes"):
        assert words in message, message
    server.wait_stored([s.span_id.hex() for s in good])
    server.assert_absent([s.span_id.hex() for s in bad if len(s.span_id) == 8 and any(s.span_id)])


def test_partial_success_json_for_ids_that_are_not_hex(server: Backend) -> None:
    good = good_span("good")
    built = raw_span_request([good])
    doc = otlp_json(built)
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    bad_ids = [span_id().hex() for _ in range(4)]
    spans.append({**spans[0], "traceId": "zz" * 16, "spanId": bad_ids[0]})                  # not hex
    spans.append({**spans[0], "traceId": trace_id().hex(), "spanId": bad_ids[1][:15]})      # odd length
    spans.append({**spans[0], "traceId": trace_id().hex()[:30], "spanId": bad_ids[2]})      # 15 bytes
    spans.append({**spans[0], "traceId": base64.b64encode(trace_id()).decode(), "spanId": bad_ids[3]})  # base64
    response = server.post(orjson.dumps(doc), JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    body = orjson.loads(response.content)
    assert int(body["partialSuccess"]["rejectedSpans"]) == 4
    assert "rejected 4 span(s)" in body["partialSuccess"]["errorMessage"]
    server.wait_stored([good.span_id.hex()])
    server.assert_absent(bad_ids)


# ---- malformed bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", "application/protobuf", ""])
def test_other_content_types_get_415(server: Backend, content_type: str) -> None:
    built = fbaas_request(2)
    response = httpx.post(server.traces_url, content=built.protobuf(), timeout=30,
                          headers={"Content-Type": content_type} if content_type else {})
    expect_error(response, 415, INVALID_ARGUMENT, JSON, "content-type", "application/x-protobuf")
    server.assert_absent(built.span_ids)


@pytest.mark.parametrize(("body", "words"), [
    (b'{"resourceSpans": [', "not valid JSON"),
    (b"\xff\xfe not utf-8", "not valid JSON"),
    (b'[{"resourceSpans": []}]', "JSON object"),
    (b'{"resourceSpans": "many"}', "array"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + b"ab" * 16
     + b'", "spanId": "' + b"cd" * 8 + b'", "attributes": {"a": 1}}]}]}]}', "OTLP/JSON"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + b"ab" * 16
     + b'", "spanId": "' + b"cd" * 8 + b'", "startTimeUnixNano": "soon"}]}]}]}', "OTLP/JSON"),
], ids=["truncated", "not-utf8", "array", "wrong-type", "attributes-object", "bad-int64"])
def test_invalid_json_gets_400_in_json(server: Backend, body: bytes, words: str) -> None:
    expect_error(server.post(body, JSON), 400, INVALID_ARGUMENT, JSON, words)
    server.assert_absent(["cd" * 8])


def test_truncated_protobuf_gets_400_in_protobuf_and_nothing_is_stored(server: Backend) -> None:
    built = fbaas_request(50)
    body = built.protobuf()
    for cut in (len(body) // 3, len(body) - 1):
        expect_error(server.post(body[:cut]), 400, INVALID_ARGUMENT, PROTOBUF, "protobuf")
    expect_error(server.post(b"\x0a\xff\xff\xff\xff\x0f garbage"), 400, INVALID_ARGUMENT, PROTOBUF)
    server.assert_absent(built.span_ids)


def test_protobuf_timestamp_beyond_int64_is_not_stored(server: Backend) -> None:
    span = good_span("far future")
    span.end_time_unix_nano = 2**64 - 1
    response = server.post(raw_span_request([span, good_span("fine")]).SerializeToString())
    # Either the span is refused (partial success) or the request is (400): never stored wrapped around.
    assert response.status_code in (200, 400)
    server.assert_absent([span.span_id.hex()])


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip"])
def test_broken_gzip_gets_400(server: Backend, encoding: str) -> None:
    built = fbaas_request(20)
    whole = gzipped(built.protobuf())
    expect_error(server.post(whole[: len(whole) // 2], headers={"Content-Encoding": encoding}),
                 400, INVALID_ARGUMENT, PROTOBUF, "truncated")
    expect_error(server.post(b"definitely not gzip", JSON, {"Content-Encoding": encoding}),
                 400, INVALID_ARGUMENT, JSON, "gzip")
    expect_error(server.post(built.protobuf(), headers={"Content-Encoding": encoding}),
                 400, INVALID_ARGUMENT, PROTOBUF, "gzip")
    server.assert_absent(built.span_ids)


def test_unknown_content_encoding_is_refused(server: Backend) -> None:
    built = fbaas_request(2)
    response = server.post(built.protobuf(), headers={"Content-Encoding": "br"})
    assert response.status_code in (400, 415)
    expect_error(response, response.status_code, INVALID_ARGUMENT, PROTOBUF, "br", "gzip")
    server.assert_absent(built.span_ids)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros in about 1 MB of gzip."""
    data = gzip_bomb(1024)
    assert len(data) < 2 * 10**6
    return data


def test_gzip_bomb_gets_413_and_memory_stays_bounded(server: Backend, bomb: bytes) -> None:
    for content_type in (PROTOBUF, JSON):
        with PeakRss(server.pid) as rss:
            response = server.post(bomb, content_type, {"Content-Encoding": "gzip"})
        expect_error(response, 413, RESOURCE_EXHAUSTED, content_type, "67108864")
        # Decompression stops at the 64 MiB cap: a few copies of that at most, never the 1 GiB.
        assert rss.growth < 256 * 2**20, f"RSS grew by {rss.growth / 2**20:.0f} MiB"
    server.assert_absent([])


def test_gzip_bomb_under_a_small_cap(small: Backend, bomb: bytes) -> None:
    with PeakRss(small.pid) as rss:
        response = small.post(bomb, JSON, {"Content-Encoding": "gzip"})
    expect_error(response, 413, RESOURCE_EXHAUSTED, JSON, str(SMALL_CAP))
    assert rss.growth < 64 * 2**20, f"RSS grew by {rss.growth / 2**20:.0f} MiB"
    small.assert_absent([])


def test_huge_bodies_get_413(small: Backend) -> None:
    built = fbaas_request(1)
    padded = built.request
    padded.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="pad").value.string_value = "x" * SMALL_CAP
    body = padded.SerializeToString()
    assert len(body) > SMALL_CAP
    # Declared by Content-Length, streamed without one, and only too large once decompressed.
    expect_error(small.post(body), 413, RESOURCE_EXHAUSTED, PROTOBUF, str(SMALL_CAP))

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    streamed = httpx.post(small.traces_url, content=chunks(), headers={"Content-Type": PROTOBUF}, timeout=30)
    expect_error(streamed, 413, RESOURCE_EXHAUSTED, PROTOBUF, str(SMALL_CAP))
    compressed = gzipped(body)
    assert len(compressed) < SMALL_CAP
    expect_error(small.post(compressed, headers={"Content-Encoding": "gzip"}), 413, RESOURCE_EXHAUSTED,
                 PROTOBUF, str(SMALL_CAP))
    json_body = orjson.dumps(otlp_json(padded))
    expect_error(small.post(json_body, JSON), 413, RESOURCE_EXHAUSTED, JSON)
    small.assert_absent(built.span_ids)
    # Just under the cap is fine.
    fits = fbaas_request(1)
    fits.request.resource_spans[0].scope_spans[0].spans[0].attributes.add(
        key="pad").value.string_value = "x" * (SMALL_CAP - 10_000)
    assert small.post(fits.protobuf()).status_code == 200
    small.wait_stored(fits.span_ids)


def test_moderately_nested_values_are_stored(server: Backend) -> None:
    span = good_span("nested")
    span.attributes.add(key="nested", value=nested_value(8, "kvlist"))
    span.attributes.add(key="listed", value=nested_value(8, "array"))
    response = server.post(raw_span_request([span]).SerializeToString())
    assert response.status_code == 200
    assert not parse_export_response(response.content, PROTOBUF).HasField("partial_success")
    server.wait_stored([span.span_id.hex()])
    attrs = server.scalar("SELECT attributes FROM spans WHERE span_id = :s", s=span.span_id.hex())
    expected_list: Any = "bottom"
    expected_map: Any = "bottom"
    for _ in range(8):
        expected_list = [expected_list]
        expected_map = {"k": expected_map}
    assert attrs == {"nested": expected_map, "listed": expected_list}


@pytest.mark.parametrize("depth", [200, 5000])
def test_absurdly_deep_values_get_400(server: Backend, depth: int) -> None:
    body, sid = deep_protobuf_request(depth)
    expect_error(server.post(body), 400, INVALID_ARGUMENT, PROTOBUF)
    json_body, json_sid = deep_json_request(depth)
    expect_error(server.post(json_body, JSON), 400, INVALID_ARGUMENT, JSON)
    server.assert_absent([sid, json_sid])


def test_other_methods_get_405(server: Backend) -> None:
    response = httpx.get(server.traces_url, timeout=10)
    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "")


# ---- idempotence --------------------------------------------------------------------------------

def test_a_resent_span_is_stored_once(server: Backend) -> None:
    built = fbaas_request(10)
    for body, content_type, headers in (
        (built.protobuf(), PROTOBUF, {}),
        (built.protobuf(), PROTOBUF, {}),                              # byte-identical resend
        (built.json(), JSON, {}),                                      # the same spans as JSON
        (gzipped(built.protobuf()), PROTOBUF, {"Content-Encoding": "gzip"}),
    ):
        assert server.post(body, content_type, headers).status_code == 200
    server.wait_stored(built.span_ids)  # also insists on exactly one row per span
    assert server.scalar("SELECT count(*) FROM spans WHERE trace_id = :t", t=built.trace_ids[0]) == 5


def test_duplicates_inside_one_request_are_stored_once(server: Backend) -> None:
    built = fbaas_request(4)
    scope = built.request.resource_spans[0].scope_spans[0]
    scope.spans.extend(list(scope.spans))               # every hub span twice in the same request
    built.request.resource_spans.extend(list(built.request.resource_spans))   # and every resource again
    response = server.post(built.protobuf())
    assert response.status_code == 200
    server.wait_stored(built.span_ids)
    assert server.scalar("SELECT count(*) FROM spans WHERE trace_id IN :t", t=built.trace_ids) == 20


def test_no_error_was_logged(server: Backend) -> None:
    """Runs last in this module: after every malformed body above, the backend logged no traceback."""
    assert server.healthy()
    assert "Traceback" not in server.log(), server.log()[-3000:]
