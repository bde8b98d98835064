"""Hypothesis strategies for OTLP trace requests: well-formed ones with values from every corner the
spec allows (all AnyValue kinds nested, unicode, int64 and double extremes, empty and odd-length ids,
timestamps at the edges, unknown enum values), and the same bodies broken: bytes flipped, cut,
inserted or repeated, JSON values swapped for others, and any of them compressed as gzip (one member or
several), deflate or nothing."""

from __future__ import annotations

import gzip
import itertools
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from tests.backend.otlp_requests import JSON, PROTOBUF, otlp_json

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UINT64_EDGES = st.sampled_from([0, 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1])
# Times a real SDK sends: 2000 to 2100. The edges (0, past int64) are in TIMESTAMPS below.
REALISTIC_NS = st.integers(min_value=946_684_800 * 10**9, max_value=4_102_444_800 * 10**9)
TIMESTAMPS = st.one_of(REALISTIC_NS, UINT64_EDGES)
# Any uint64 (the field's whole range), the edges, and realistic times; `spans` draws start and end
# independently, so end < start comes often.
ANY_UINT64_NS = st.one_of(REALISTIC_NS, UINT64_EDGES, st.integers(min_value=0, max_value=2**64 - 1))
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "service.name", "ü∂ƒ©˙", "\x00", "a" * 300, "🚀" * 9]))


def _scalar() -> st.SearchStrategy[AnyValue]:
    return st.one_of(
        TEXT.map(lambda v: AnyValue(string_value=v)),
        st.booleans().map(lambda v: AnyValue(bool_value=v)),
        INT64.map(lambda v: AnyValue(int_value=v)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda v: AnyValue(double_value=v)),
        st.binary(max_size=40).map(lambda v: AnyValue(bytes_value=v)),
        st.just(AnyValue()),  # a value with none of its oneof set
    )


def _nested(children: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
    return st.one_of(
        st.lists(children, max_size=4).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs))),
        st.lists(st.tuples(TEXT, children), max_size=4).map(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs]))),
    )


ANY_VALUE = st.recursive(_scalar(), _nested, max_leaves=8)
ATTRIBUTES = st.lists(st.tuples(TEXT, ANY_VALUE), max_size=6).map(
    lambda kvs: [KeyValue(key=k, value=v) for k, v in kvs])
TRACE_ID = st.one_of(st.binary(min_size=16, max_size=16), st.sampled_from([b"", bytes(16), b"\x01" * 15]))
SPAN_ID = st.one_of(st.binary(min_size=8, max_size=8), st.sampled_from([b"", bytes(8), b"\x01" * 9]))


@st.composite
def spans(draw: st.DrawFn, timestamps: st.SearchStrategy[int] = TIMESTAMPS) -> Span:
    span = Span(trace_id=draw(TRACE_ID), span_id=draw(SPAN_ID), name=draw(TEXT),
                kind=draw(st.integers(min_value=0, max_value=9)),  # 6.. are not in the enum
                start_time_unix_nano=draw(timestamps), end_time_unix_nano=draw(timestamps),
                trace_state=draw(st.sampled_from(["", "vendor=value", "k=v,x=y"])),
                dropped_attributes_count=draw(st.integers(min_value=0, max_value=2**32 - 1)),
                flags=draw(st.integers(min_value=0, max_value=2**32 - 1)))
    if draw(st.booleans()):
        span.parent_span_id = draw(SPAN_ID)
    span.attributes.extend(draw(ATTRIBUTES))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        event = span.events.add(name=draw(TEXT), time_unix_nano=draw(timestamps))
        event.attributes.extend(draw(ATTRIBUTES))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        link = span.links.add(trace_id=draw(TRACE_ID), span_id=draw(SPAN_ID))
        link.attributes.extend(draw(ATTRIBUTES))
    span.status.CopyFrom(Status(code=draw(st.integers(min_value=0, max_value=5)), message=draw(TEXT)))
    return span


@st.composite
def requests(draw: st.DrawFn, timestamps: st.SearchStrategy[int] = TIMESTAMPS) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        resource_spans = request.resource_spans.add(schema_url=draw(st.sampled_from(["", "https://x/1.2"])))
        resource_spans.resource.attributes.extend(draw(ATTRIBUTES))
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(TEXT)
            scope_spans.scope.attributes.extend(draw(ATTRIBUTES))
            scope_spans.spans.extend(draw(st.lists(spans(timestamps), max_size=4)))
    return request


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str
    encoding: str | None
    mutated: bool

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type} | ({"Content-Encoding": self.encoding} if self.encoding else {})


def encode(request: ExportTraceServiceRequest, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return request.SerializeToString()
    # OTLP/JSON: hex ids; Infinity/NaN as the strings protobuf's JSON mapping uses.
    return orjson.dumps(otlp_json(request))


def compress(data: bytes, encoding: str | None, cuts: list[int]) -> bytes:
    if encoding == "gzip":
        if not cuts:
            return gzip.compress(data, compresslevel=1)
        # Several members back to back, split at `cuts`.
        bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
        return b"".join(gzip.compress(data[a:b], compresslevel=1) for a, b in itertools.pairwise(bounds))
    if encoding == "deflate":
        return zlib.compress(data, 1)
    return data


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few random edits (or none, when the draw says so)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=max(len(out), 1)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "truncate"]))
        if op == "flip" and out:
            out[position % len(out)] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "cut":
            del out[position:position + draw(st.integers(min_value=1, max_value=16))]
        elif op == "insert":
            out[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif op == "repeat":
            out[position:position] = out[position:position + draw(st.integers(min_value=1, max_value=64))]
        else:
            del out[position:]
    return bytes(out)


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children,
                                                                                    max_size=3)),
    max_leaves=8)


@st.composite
def json_swapped(draw: st.DrawFn, request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON with one value anywhere in the document replaced by any JSON value."""
    doc: Any = otlp_json(request)
    holders: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            holders.append((node, key))
            walk(value)

    walk(doc)
    if holders:
        node, key = holders[draw(st.integers(min_value=0, max_value=len(holders) - 1))]
        node[key] = draw(JSON_VALUES)
    else:
        doc = draw(JSON_VALUES)
    return orjson.dumps(doc)


@st.composite
def bodies(draw: st.DrawFn, timestamps: st.SearchStrategy[int] = TIMESTAMPS,
           mutate: bool | None = None) -> tuple[ExportTraceServiceRequest, Body]:
    """A request and how it goes on the wire; `mutate` None lets the draw decide."""
    request = draw(requests(timestamps))
    content_type = draw(st.sampled_from([PROTOBUF, JSON]))
    encoding = draw(st.sampled_from([None, "gzip", "deflate"]))
    broken = draw(st.booleans()) if mutate is None else mutate
    cuts = draw(st.lists(st.integers(min_value=0), max_size=2)) if encoding == "gzip" else []
    if broken and content_type == JSON and draw(st.booleans()):
        return request, Body(compress(draw(json_swapped(request)), encoding, cuts), content_type, encoding, True)
    wire = compress(encode(request, content_type), encoding, cuts)
    if broken:
        wire = draw(mutated(wire))
    return request, Body(wire, content_type, encoding, broken)
