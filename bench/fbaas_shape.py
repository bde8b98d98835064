"""FBaaS-shaped OTLP requests for benchmarks: 5-span traces (hub SERVER, 2 hub CLIENT, fizzer and
buzzer SERVER), 8 attributes per span, every id and attribute value unique across all requests."""

from __future__ import annotations

import base64
import itertools
import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# (service, span name, kind, parent index within the trace)
TRACE_SHAPE = (("hub", "POST /", 2, -1), ("hub", "POST", 3, 0), ("fizzer", "fizz", 2, 1),
               ("hub", "POST", 3, 0), ("buzzer", "POST /", 2, 3))
SPANS_PER_TRACE = len(TRACE_SHAPE)


class RequestFactory:
    """Builds serialized requests by refilling one message in place (≈10x faster than building anew)."""

    def __init__(self, spans_per_request: int = 500, seed: int = 0) -> None:
        if spans_per_request % SPANS_PER_TRACE:
            raise ValueError(f"spans_per_request must be a multiple of {SPANS_PER_TRACE}")
        self._counter = itertools.count(seed * 10**9)
        self._request = ExportTraceServiceRequest()
        self._spans: list[tuple[int, Any]] = []
        scopes: dict[str, Any] = {}
        for service in ("hub", "fizzer", "buzzer"):
            rs = self._request.resource_spans.add()
            for key, value in (("service.name", service), ("service.version", "1.4.2"),
                               ("telemetry.sdk.language", "python"), ("host.name", "laptop")):
                rs.resource.attributes.add(key=key).value.string_value = value
            ss = rs.scope_spans.add()
            ss.scope.name = f"opentelemetry.instrumentation.{service}"
            ss.scope.version = "0.66b1"
            scopes[service] = ss
        for _ in range(spans_per_request // SPANS_PER_TRACE):
            for index, (service, name, kind, _parent) in enumerate(TRACE_SHAPE):
                span = scopes[service].spans.add()
                span.name = name
                span.kind = kind  # type: ignore[assignment]
                self._spans.append((index, span))

    def next_body(self) -> bytes:
        now = time.time_ns()
        ids = os.urandom(len(self._spans) * 8 + (len(self._spans) // SPANS_PER_TRACE) * 16)
        id_pos = 0
        trace_id = b""
        span_ids: list[bytes] = []
        for index, span in self._spans:
            n = next(self._counter)
            if index == 0:
                trace_id = ids[id_pos:id_pos + 16]
                id_pos += 16
                span_ids = []
            span_id = ids[id_pos:id_pos + 8]
            id_pos += 8
            span_ids.append(span_id)
            parent = TRACE_SHAPE[index][3]
            span.trace_id = trace_id
            span.span_id = span_id
            span.parent_span_id = span_ids[parent] if parent >= 0 else b""
            span.start_time_unix_nano = now + index * 1000
            span.end_time_unix_nano = now + 3_000_000 - index * 1000 + n % 1000
            del span.attributes[:]
            a = span.attributes
            a.add(key="http.request.method").value.string_value = "POST"
            a.add(key="url.full").value.string_value = f"http://localhost:6000/?n={n}"
            a.add(key="http.response.status_code").value.int_value = 200
            a.add(key="server.port").value.int_value = 6000 + index
            a.add(key="user_agent.original").value.string_value = f"curl/8.{n % 97}.{n}"
            a.add(key="fizzbuzz.number").value.int_value = n
            a.add(key="request.id").value.string_value = f"{n:016x}"
            a.add(key="traffic.type").value.string_value = "loadtest"
        return self._request.SerializeToString()


def to_otlp_json(body: bytes) -> bytes:
    """The same request as OTLP/JSON (hex ids, as the OTLP spec requires)."""
    import orjson
    from google.protobuf import json_format

    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body))
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(doc)
