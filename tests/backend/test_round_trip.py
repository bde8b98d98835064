"""Round trip through the real backend: the official OpenTelemetry Python SDK and its OTLP/HTTP
exporter send spans using every field the SDK sets (span and link flags, trace state, remote parent,
scope name/version/attributes/schema URL, resource schema URL, events, links, status); /api/v3 must
return exactly the OTLP the exporter sent, and /api/traces (v1) what Jaeger's mapping makes of it.

The expected OTLP is the exporter's own encoding of the same spans (the SDK's encode_spans, which its
HTTP exporter posts), so the test does not restate what the SDK sends: it compares with it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from tests.api import jaeger_definitions as jd

from .conftest import Backend, BackendFactory
from .sdk import HttpExporter


class Tee(SpanExporter):
    """Keeps each span it exports, then hands it to the real OTLP/HTTP exporter."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()


@pytest.fixture(scope="module")
def server(module_backends: BackendFactory) -> Iterator[Backend]:
    backend = module_backends()
    yield backend
    assert backend.stop() == 0


def _emit(backend: Backend) -> tuple[Tee, str]:
    tee = Tee(HttpExporter(endpoint=backend.traces_url, timeout=30))
    resource = Resource.create({"service.name": "roundtrip", "service.version": "3.1.4", "host.name": "h"},
                               schema_url="https://opentelemetry.io/schemas/1.26.0")
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(tee))
    tracer = tp.get_tracer("tracehouse.roundtrip", "2.7", schema_url="https://opentelemetry.io/schemas/1.24.0",
                           attributes={"scope.team": "obs", "scope.level": 3})
    # A remote, sampled parent with trace state: the SDK then sets the has-remote and is-remote flags
    # (0x100, 0x200) on the server span and its link, and the trace state travels on.
    parent = SpanContext(trace_id=0x5B8EFFF798038103D269B633813FC60C, span_id=0x00F067AA0BA902B7, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("vendor", "v1")]))
    linked = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0x1111111111111111, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("l", "2")]))
    with tracer.start_as_current_span(
            "GET /fizzbuzz/{n}", context=trace.set_span_in_context(trace.NonRecordingSpan(parent)),
            kind=SpanKind.SERVER, links=[Link(linked, {"link.kind": "retry", "link.n": 2})],
            attributes={"http.request.method": "GET", "http.response.status_code": 500, "ratio": 0.5,
                        "ok": False, "tags": ["a", "b"], "codes": [1, 2]}) as root:
        root.add_event("cache.miss", {"key": "k1", "size": 12})
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes={"db.system": "duckdb"}):
            pass
        try:
            raise ValueError("no buzz")
        except ValueError as exc:
            root.record_exception(exc)
        root.set_status(Status(StatusCode.ERROR, "buzzer failed"))
    tp.shutdown()
    return tee, f"{parent.trace_id:032x}"


def _hex_ids(node: Any) -> Any:
    """MessageToDict writes bytes as base64; OTLP/JSON writes ids as hex."""
    if isinstance(node, dict):
        return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else _hex_ids(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def _canonical(node: Any) -> Any:
    """Proto3 JSON leaves default values out, and key-value lists are maps: compare them as such."""
    if isinstance(node, dict):
        out = {k: _canonical(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v not in ("", [], {}, 0, "0", None)}
    if isinstance(node, list):
        if node and all(isinstance(v, dict) and set(v) == {"key", "value"} for v in node):
            return {v["key"]: _canonical(v["value"]) for v in node}
        return [_canonical(v) for v in node]
    return node


def _spans_by_id(traces_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each span with the resource and scope it came in (canonical), by span id."""
    out = {}
    for rs in traces_data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                out[span["spanId"]] = _canonical({
                    "resource": rs.get("resource"), "resourceSchemaUrl": rs.get("schemaUrl"),
                    "scope": ss.get("scope"), "scopeSchemaUrl": ss.get("schemaUrl"), "span": span})
    return out


def test_v3_returns_what_the_sdk_sent(server: Backend) -> None:
    tee, trace_id = _emit(server)
    sent = _hex_ids(MessageToDict(encode_spans(tee.spans), use_integers_for_enums=True))
    expected = _spans_by_id(sent)
    server.wait_stored(list(expected))
    body = httpx.get(f"{server.query_url}/api/v3/traces/{trace_id}", timeout=30).json()
    assert jd.conforms(body, jd.GET_TRACE_RESPONSE) == [], jd.first_bad_span(body["result"])
    returned = _spans_by_id(body["result"])
    # The fields this test is about are really in what the SDK sent (else it would prove nothing).
    root = next(s for s in expected.values() if s["span"]["kind"] == 2)
    # Bits 8 and 9: the parent (and the link's span) is known to be remote.
    assert root["span"]["flags"] & 0x300 == 0x300 and root["span"]["links"][0]["flags"] & 0x300 == 0x300
    assert root["scope"]["attributes"] == {"scope.team": {"stringValue": "obs"}, "scope.level": {"intValue": "3"}}
    assert root["scopeSchemaUrl"] and root["resourceSchemaUrl"] and root["span"]["traceState"] == "vendor=v1"
    assert set(returned) == set(expected)
    for span_id, span in expected.items():
        assert returned[span_id] == span, span_id


def test_v1_returns_it_as_jaeger_maps_it(server: Backend) -> None:
    tee, trace_id = _emit(server)
    server.wait_stored([f"{s.context.span_id:016x}" for s in tee.spans])
    [jaeger] = httpx.get(f"{server.query_url}/api/traces/{trace_id}", timeout=30).json()["data"]
    by_id = {s["spanID"]: s for s in jaeger["spans"]}
    for sdk in tee.spans:
        span = by_id[f"{sdk.context.span_id:016x}"]
        tags = {t["key"]: t["value"] for t in span["tags"]}
        process = jaeger["processes"][span["processID"]]
        assert process["serviceName"] == "roundtrip"
        assert {t["key"]: t["value"] for t in process["tags"]} == {
            k: v for k, v in sdk.resource.attributes.items() if k != "service.name"}
        # The SDK sends only the remote bits in OTLP's flags; Jaeger's flag is the sampled bit.
        assert span["flags"] == int(sdk.context.trace_flags) == 1
        assert span["operationName"] == sdk.name
        assert span["startTime"] == sdk.start_time // 1000
        assert span["duration"] == (sdk.end_time - sdk.start_time) // 1000
        assert tags["span.kind"] == sdk.kind.name.lower()
        assert tags["otel.scope.name"] == "tracehouse.roundtrip" and tags["otel.scope.version"] == "2.7"
        for key, value in sdk.attributes.items():
            # Jaeger tags have no arrays: they travel as JSON text, as the Collector's translator does.
            assert tags[key] == (orjson.dumps(list(value)).decode() if isinstance(value, tuple) else value)
        refs = [(r["refType"], r["traceID"], r["spanID"]) for r in span["references"]]
        assert refs[0] == ("CHILD_OF", trace_id, f"{sdk.parent.span_id:016x}")
        assert refs[1:] == [("FOLLOWS_FROM", f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}")
                            for link in sdk.links]
        assert [(log["timestamp"], log["fields"][0]["value"]) for log in span["logs"]] == [
            (e.timestamp // 1000, e.name) for e in sdk.events]
        if sdk.kind is SpanKind.SERVER:
            assert tags["otel.status_code"] == "ERROR" and tags["error"] is True
            assert tags["otel.status_description"] == "buzzer failed"
            assert tags["w3c.tracestate"] == "vendor=v1"
