"""The walk's hand-packed Arrow buffers (tracehouse.otlp.walk) against the same spans built with
pa.array: nulls, non-ASCII text, several requests and resources in one pack, a span rejected among
accepted ones, and no spans at all."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from tests.backend.otlp_requests import key_values

from tracehouse.model import SPAN_BATCH_SCHEMA
from tracehouse.otlp.columns import to_table
from tracehouse.otlp.walk import BUFFERS_PER_KIND, LAYOUT, SpanColumns


def _request(service: str, spans: list[dict[str, Any]], scope: tuple[str, str] = ("", ""),
             schema_urls: tuple[str, str] = ("", ""), scope_attributes: dict[str, Any] | None = None,
             ) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values({"service.name": service, "host": "h1"}))
    resource_spans.schema_url = schema_urls[0]
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = scope
    scope_spans.schema_url = schema_urls[1]
    scope_spans.scope.attributes.extend(key_values(scope_attributes or {}))
    for s in spans:
        span = scope_spans.spans.add()
        span.trace_id, span.span_id = s["trace_id"], s["span_id"]
        span.parent_span_id = s.get("parent", b"")
        span.trace_state = s.get("trace_state", "")
        span.flags = s.get("flags", 0)
        span.name = s["name"]
        span.kind = s.get("kind", Span.SpanKind.SPAN_KIND_SERVER)
        span.start_time_unix_nano, span.end_time_unix_nano = s["start"], s["end"]
        span.status.CopyFrom(Status(code=s.get("status", 0), message=s.get("message", "")))
        span.attributes.extend(key_values(s.get("attributes", {})))
        for name in s.get("events", []):
            span.events.add(time_unix_nano=s["start"], name=name)
    return request


SPANS_A = [
    {"trace_id": b"\x01" * 16, "span_id": b"\x02" * 8, "name": "GET /fizz", "start": 10, "end": 25,
     "attributes": {"http.status_code": 200, "ratio": 0.5, "ok": True}, "flags": 0x301},
    {"trace_id": b"\x01" * 16, "span_id": b"\x03" * 8, "parent": b"\x02" * 8, "name": "résumé ✓",
     "trace_state": "k=v", "start": 11, "end": 20, "status": 2, "message": "boom ☂", "events": ["retry"],
     "attributes": {"user": "zoë"}},
]
SPANS_B = [
    {"trace_id": b"\x04" * 16, "span_id": b"\x05" * 8, "parent": b"\x02" * 8, "name": "work", "start": 2**62,
     "end": 2**62 + 5, "kind": Span.SpanKind.SPAN_KIND_CLIENT},
    {"trace_id": b"\x00" * 16, "span_id": b"\x06" * 8, "name": "rejected: zero trace id", "start": 1, "end": 2},
]


def _expected(rows: list[tuple[str, tuple[str, str], dict[str, Any]]],
              extra: dict[str, tuple[str | None, str | None, str | None]]) -> pa.Table:
    """`extra`: per service, (scope attributes JSON, scope schema URL, resource schema URL)."""
    def col(fn: Any) -> list[Any]:
        return [fn(service, scope, s) for service, scope, s in rows]

    def text(value: str) -> str | None:
        return value or None

    return pa.Table.from_arrays([
        pa.array(col(lambda _, __, s: s["trace_id"]), pa.binary(16)),
        pa.array(col(lambda _, __, s: s["span_id"]), pa.binary(8)),
        pa.array(col(lambda _, __, s: s.get("parent") or None), pa.binary(8)),
        pa.array(col(lambda _, __, s: text(s.get("trace_state", ""))), pa.string()),
        pa.array(col(lambda service, _, __: service), pa.string()),
        pa.array(col(lambda _, __, s: s["name"]), pa.string()),
        pa.array(col(lambda _, __, s: s.get("kind", 2)), pa.uint8()),
        pa.array(col(lambda _, __, s: s["start"]), pa.int64()),
        pa.array(col(lambda _, __, s: s["end"]), pa.int64()),
        pa.array(col(lambda _, __, s: s.get("status", 0)), pa.uint8()),
        pa.array(col(lambda _, __, s: text(s.get("message", ""))), pa.string()),
        pa.array(col(lambda _, __, s: orjson.dumps(s.get("attributes", {})).decode()), pa.string()),
        pa.array(col(lambda service, _, __: orjson.dumps({"service.name": service, "host": "h1"}).decode()),
                 pa.string()),
        pa.array(col(lambda _, __, s: orjson.dumps([{"time_unix_nano": s["start"], "name": n, "attributes": {}}
                                                     for n in s["events"]]).decode() if s.get("events") else None),
                 pa.string()),
        pa.array([None] * len(rows), pa.string()),
        pa.array(col(lambda _, scope, __: text(scope[0])), pa.string()),
        pa.array(col(lambda _, scope, __: text(scope[1])), pa.string()),
        pa.array(col(lambda _, __, s: s.get("flags", 0)), pa.int64()),
        pa.array(col(lambda service, _, __: extra[service][0]), pa.string()),
        pa.array(col(lambda service, _, __: extra[service][1]), pa.string()),
        pa.array(col(lambda service, _, __: extra[service][2]), pa.string()),
    ], names=SPAN_BATCH_SCHEMA.names)


def _plain(table: pa.Table) -> pa.Table:
    column = SPAN_BATCH_SCHEMA.get_field_index("resource_attributes")
    return table.set_column(column, "resource_attributes", table.column(column).cast(pa.string())).combine_chunks()


def test_the_layout_follows_the_batch_schema_and_pack_writes_its_buffers() -> None:
    assert [name for name, _ in LAYOUT] == SPAN_BATCH_SCHEMA.names
    assert len(SpanColumns().pack().lengths) == sum(BUFFERS_PER_KIND[kind] for _, kind in LAYOUT)


def test_packed_spans_of_several_requests_read_back_as_built_with_pa_array() -> None:
    columns = SpanColumns()
    columns.add(_request("hub", SPANS_A, scope=("fbaas", "1.0"), scope_attributes={"lib": "x", "n": 2},
                         schema_urls=("https://opentelemetry.io/schemas/1.26.0", "https://s/scope")))
    columns.add(_request("fizzer ☃", SPANS_B))
    packed = columns.pack()
    table = to_table(packed)
    table.validate(full=True)
    assert table.schema.remove_metadata().equals(SPAN_BATCH_SCHEMA.set(
        12, pa.field("resource_attributes", pa.dictionary(pa.int32(), pa.string()))))
    extra = {"hub": ('{"lib":"x","n":2}', "https://s/scope", "https://opentelemetry.io/schemas/1.26.0"),
             "fizzer ☃": (None, None, None)}
    expected = _expected([("hub", ("fbaas", "1.0"), s) for s in SPANS_A] + [("fizzer ☃", ("", ""), SPANS_B[0])],
                         extra)
    assert _plain(table).equals(expected)
    assert table.column("resource_attributes").chunk(0).dictionary.to_pylist() == [
        '{"service.name":"hub","host":"h1"}', '{"service.name":"fizzer ☃","host":"h1"}']
    assert (packed.rejected, packed.error_message) == (
        1, "rejected 1 span(s): 1 with an all-zero trace id. The other spans were accepted.")


@pytest.mark.parametrize("present", [0, 1, 7, 8, 9, 64, 65])
def test_validity_bitmaps_mark_exactly_the_present_values(present: int) -> None:
    spans = [{"trace_id": b"\x07" * 16, "span_id": i.to_bytes(8, "big"), "name": "s", "start": i, "end": i,
              "parent": b"\x09" * 8 if i <= present else b"", "message": "m" if i <= present else ""}
             for i in range(1, 66)]
    columns = SpanColumns()
    columns.add(_request("svc", spans))
    table = to_table(columns.pack())
    table.validate(full=True)
    assert table.column("parent_span_id").null_count == 65 - present
    assert table.column("status_message").to_pylist() == ["m"] * present + [None] * (65 - present)
    assert table.column("trace_state").null_count == 65


def test_no_spans_pack_to_an_empty_table() -> None:
    packed = SpanColumns().pack()
    assert packed.rows == 0
    table = to_table(packed)
    table.validate(full=True)
    assert table.num_rows == 0 and table.column_names == SPAN_BATCH_SCHEMA.names


def test_buffers_that_do_not_match_the_row_count_are_refused() -> None:
    columns = SpanColumns()
    columns.add(_request("hub", SPANS_A))
    packed = columns.pack()
    too_many_rows = dataclasses.replace(packed, rows=packed.rows + 1)
    with pytest.raises(pa.ArrowException):
        to_table(too_many_rows)
    cut_short = dataclasses.replace(packed, data=packed.data[:-8])
    with pytest.raises(pa.ArrowException):
        to_table(cut_short)
