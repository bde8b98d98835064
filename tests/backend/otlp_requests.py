"""OTLP requests for the backend tests: FBaaS-shaped traces with unique ids, as protobuf or OTLP/JSON.

Every builder returns the hex span ids it put in the request, so a test can check exactly which
spans the backend stored. Ids come from os.urandom: unique across requests, processes and restarts.
"""

from __future__ import annotations

import base64
import gzip
import os
import struct
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

SERVER = Span.SpanKind.SPAN_KIND_SERVER
CLIENT = Span.SpanKind.SPAN_KIND_CLIENT


def trace_id() -> bytes:
    while True:
        value = os.urandom(16)
        if any(value):
            return value


def span_id() -> bytes:
    while True:
        value = os.urandom(8)
        if any(value):
            return value


def any_value(value: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue (str, bool, int, float, bytes, list, dict)."""
    out = AnyValue()
    if isinstance(value, str):
        out.string_value = value
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, list):
        out.array_value.values.extend(any_value(v) for v in value)
    elif isinstance(value, dict):
        out.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
    else:
        raise TypeError(f"no AnyValue for {value!r}")
    return out


def key_values(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def nested_value(depth: int, kind: str = "array") -> AnyValue:
    """An AnyValue nested `depth` levels deep (arrays or kvlists) around a string."""
    value = AnyValue(string_value="bottom")
    for _ in range(depth):
        outer = AnyValue()
        if kind == "array":
            outer.array_value.values.append(value)
        else:
            outer.kvlist_value.values.append(KeyValue(key="k", value=value))
        value = outer
    return value


@dataclass
class Built:
    """A request and the spans in it (hex span ids, in request order)."""

    request: ExportTraceServiceRequest
    span_ids: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)

    def protobuf(self) -> bytes:
        return self.request.SerializeToString()

    def json(self) -> bytes:
        return orjson.dumps(otlp_json(self.request))


def _resource(request: ExportTraceServiceRequest, service: str) -> ResourceSpans:
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(key_values({
        "service.name": service, "service.version": "1.0.0", "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry", "host.name": "laptop",
    }))
    return rs


def fbaas_request(traces: int = 1, start_ns: int | None = None, spacing_ns: int = 1_000_000,
                  pad_bytes: int = 0) -> Built:
    """`traces` FBaaS-shaped traces: hub SERVER -> two CLIENT calls -> fizzer and buzzer SERVER spans.

    Five spans per trace, about eight attributes each, in three ResourceSpans (one per service) the
    way three SDKs would send them. Trace k starts at start_ns + k * spacing_ns (default: now).
    `pad_bytes` adds a string attribute of that size to every span (heavier requests).
    """
    request = ExportTraceServiceRequest()
    hub, fizzer, buzzer = (_resource(request, name).scope_spans.add() for name in ("hub", "fizzer", "buzzer"))
    hub.scope.name = "opentelemetry.instrumentation.fastapi"
    hub.scope.version = "0.66b1"
    fizzer.scope.name = buzzer.scope.name = "fbaas"
    built = Built(request)
    base = time.time_ns() if start_ns is None else start_ns
    for k in range(traces):
        tid = trace_id()
        built.trace_ids.append(tid.hex())
        t0 = base + k * spacing_ns
        number = k % 100
        root = _add(built, hub, tid, None, f"GET /fizzbuzz/{number}", SERVER, t0, 900_000, {
            "http.request.method": "GET", "http.route": "/fizzbuzz/{number}", "url.path": f"/fizzbuzz/{number}",
            "http.response.status_code": 200, "server.address": "localhost", "server.port": 6000,
            "network.protocol.version": "1.1", "fizzbuzz.number": number,
        })
        for scope, service, offset in ((fizzer, "fizzer", 100_000), (buzzer, "buzzer", 150_000)):
            client = _add(built, hub, tid, root, "POST", CLIENT, t0 + offset, 600_000, {
                "http.request.method": "POST", "url.full": f"http://localhost/{service}",
                "server.address": service, "server.port": 6001, "http.response.status_code": 200,
                "network.peer.address": "127.0.0.1", "fbaas.call": service, "fbaas.retry": False,
            })
            _add(built, scope, tid, client, "POST /", SERVER, t0 + offset + 50_000, 400_000, {
                "http.request.method": "POST", "http.route": "/", "http.response.status_code": 200,
                "server.port": 6001, f"fizzbuzz.{service[:4]}": number % 3 == 0,
                "fizzbuzz.number": number, "fbaas.ratio": 0.5, "fbaas.tags": ["a", "b"],
            })
    if pad_bytes:
        pad = KeyValue(key="pad", value=AnyValue(string_value="p" * pad_bytes))
        for rs in request.resource_spans:
            for span in rs.scope_spans[0].spans:
                span.attributes.append(pad)
    return built


def _add(built: Built, scope: Any, tid: bytes, parent: bytes | None, name: str, kind: int, start: int,
         duration: int, attrs: dict[str, Any]) -> bytes:
    sid = span_id()
    span = scope.spans.add(trace_id=tid, span_id=sid, name=name, kind=kind, start_time_unix_nano=start,
                           end_time_unix_nano=start + duration)
    if parent is not None:
        span.parent_span_id = parent
    span.attributes.extend(key_values(attrs))
    span.status.code = Status.StatusCode.STATUS_CODE_UNSET
    built.span_ids.append(sid.hex())
    return sid


def raw_span_request(spans: Iterable[Span], service: str = "edge") -> ExportTraceServiceRequest:
    """One resource and scope holding the given hand-built spans (ids may be invalid on purpose)."""
    request = ExportTraceServiceRequest()
    rs = _resource(request, service)
    rs.scope_spans.add().spans.extend(spans)
    return request


def good_span(name: str = "ok", start_ns: int | None = None, **attrs: Any) -> Span:
    start = time.time_ns() if start_ns is None else start_ns
    span = Span(trace_id=trace_id(), span_id=span_id(), name=name, kind=SERVER,
                start_time_unix_nano=start, end_time_unix_nano=start + 1000)
    span.attributes.extend(key_values(attrs))
    return span


def deep_protobuf_request(depth: int) -> tuple[bytes, str]:
    """A request whose one span has an attribute value nested `depth` arrays deep, encoded by hand
    (the protobuf library itself refuses to build messages this deep)."""

    def field(number: int, payload: bytes) -> bytes:
        key = (number << 3) | 2
        size = len(payload)
        varint = bytearray()
        while True:
            byte = size & 0x7F
            size >>= 7
            varint.append(byte | (0x80 if size else 0))
            if not size:
                break
        return bytes([key]) + bytes(varint) + payload

    value = field(1, b"bottom")                     # AnyValue.string_value
    for _ in range(depth):
        value = field(5, field(1, value))           # AnyValue.array_value -> ArrayValue.values
    span = good_span("deep")
    span_bytes = span.SerializeToString() + field(9, field(1, b"deep") + field(2, value))  # Span.attributes
    request = field(1, field(2, field(2, span_bytes)))  # resource_spans -> scope_spans -> spans
    return request, span.span_id.hex()


def deep_json_request(depth: int) -> tuple[bytes, str]:
    """The same in OTLP/JSON, written as text (orjson refuses to serialise anything this deep)."""
    span = good_span("deep")
    span.attributes.add(key="deep").value.string_value = "bottom"
    text = orjson.dumps(otlp_json(raw_span_request([span]))).decode()
    leaf = '{"stringValue":"bottom"}'
    assert text.count(leaf) == 1
    nested = leaf
    for _ in range(depth):
        nested = '{"arrayValue":{"values":[' + nested + "]}}"
    return text.replace(leaf, nested).encode(), span.span_id.hex()


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP/JSON form of a request: protobuf's JSON mapping with hex ids and integer enums."""
    doc = json_format.MessageToDict(request, use_integers_for_enums=True)

    def hexify(holder: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in holder:
                holder[key] = base64.b64decode(holder[key]).hex()

    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                hexify(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", []):
                    hexify(link, ("traceId", "spanId"))
    return doc


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def gzip_bomb(mebibytes: int) -> bytes:
    """A gzip stream that inflates to `mebibytes` MiB of zeros, about 1000x smaller, built fast.

    One MiB of zeros is deflated once, ending in a full flush (so the block needs nothing before
    it), and that block is repeated; a final empty block and the gzip header and trailer
    (CRC-32 and length of the whole output) make it a valid stream.
    """
    zeros = bytes(1 << 20)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return header + block * mebibytes + final + trailer


def parse_export_response(body: bytes, content_type: str) -> ExportTraceServiceResponse:
    response = ExportTraceServiceResponse()
    if content_type == JSON:
        json_format.Parse(body, response)
    else:
        response.ParseFromString(body)
    return response


def parse_status(body: bytes, content_type: str) -> status_pb2.Status:
    """A google.rpc.Status error body, parsed strictly in the given content type."""
    status = status_pb2.Status()
    if content_type == JSON:
        json_format.Parse(body, status)
    else:
        status.ParseFromString(body)
    return status
