"""Splitting a large ExportTraceServiceRequest body into smaller ones without parsing it whole.

A legal 51 MB request of 1M tiny spans, parsed at once, takes ~175 MB of protobuf arena in the
backend, and as many again to copy its spans into bounded records. Walking the wire format instead
(ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2)
yields each span's bytes as a slice of the body; they are regrouped into requests of at most
`max_spans` spans and about `max_bytes`, each with its resource and scope, which are then parsed
and validated one at a time (prepare.py). Other fields (resource, scope, schema URLs, unknown
fields) are copied into every part. The walk is only an optimisation: a body it does not
understand (a wire type it does not expect) makes it give up, and the caller parses it whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracehouse.otlp.errors import DecodeError


class _Unexpected(Exception):
    pass


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("body is not a valid OTLP ExportTraceServiceRequest protobuf: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: memoryview) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start of the whole field, end of the field, with the value of a
    length-delimited field at [end - length, end))."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            pos += length
        else:
            raise _Unexpected   # groups: leave them to the real parser
        if pos > len(data):
            raise DecodeError("body is not a valid OTLP ExportTraceServiceRequest protobuf: truncated field")
        yield number, wire, start, pos


def _value(data: memoryview, start: int) -> memoryview:
    """The value of the length-delimited field starting at `start`."""
    _, pos = _varint(data, start)
    length, pos = _varint(data, pos)
    return data[pos:pos + length]


def _field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _wrap(rs_head: bytes, scope_head: bytes, spans: list[memoryview]) -> bytes:
    """One ResourceSpans field holding one ScopeSpans with `spans`."""
    return _field(1, rs_head + _field(2, scope_head + b"".join(spans)))


def split_request(body: bytes, max_spans: int, max_bytes: int) -> list[bytes] | None:
    """The body as several serialized requests holding its spans in order, or None if the walk
    does not understand it (parse it whole then). Raises DecodeError for a truncated body.

    Spans are streamed (two passes over each ResourceSpans and ScopeSpans: their other fields
    first, then the spans), so no more than one part's spans are held as slices at a time: a
    list of 1M slices would itself cost ~180 MB."""
    data = memoryview(body)
    parts: list[bytes] = []
    current: list[bytes] = []          # serialized ResourceSpans of the part being built
    spans_in_part = 0
    bytes_in_part = 0
    try:
        for number, wire, start, _end in _fields(data):
            if number != 1 or wire != 2:
                continue   # an unknown top-level field: nothing of it would be stored
            resource_spans = _value(data, start)
            rs_head = b"".join(bytes(resource_spans[s:e]) for n, w, s, e in _fields(resource_spans)
                               if not (n == 2 and w == 2))
            for n, w, s, _e in _fields(resource_spans):
                if not (n == 2 and w == 2):
                    continue
                scope_spans = _value(resource_spans, s)
                scope_head = b"".join(bytes(scope_spans[s2:e2]) for n2, w2, s2, e2 in _fields(scope_spans)
                                      if not (n2 == 2 and w2 == 2))
                chunk: list[memoryview] = []
                any_span = False
                for n2, w2, s2, e2 in _fields(scope_spans):
                    if not (n2 == 2 and w2 == 2):
                        continue
                    any_span = True
                    span = scope_spans[s2:e2]
                    if spans_in_part and (spans_in_part >= max_spans or bytes_in_part + len(span) > max_bytes):
                        if chunk:
                            current.append(_wrap(rs_head, scope_head, chunk))
                            chunk = []
                        parts.append(b"".join(current))
                        current, spans_in_part, bytes_in_part = [], 0, 0
                    chunk.append(span)
                    spans_in_part += 1
                    bytes_in_part += len(span)
                if chunk or not any_span:
                    current.append(_wrap(rs_head, scope_head, chunk))
    except _Unexpected:
        return None
    if current:
        parts.append(b"".join(current))
    return parts
