"""Generated traces (tests/sampling/generated.py) as OTLP requests, the way SDKs send them: one
ResourceSpans per service."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tests.backend.otlp_requests import key_values

from .generated import GenTrace


def otlp_request(rows: Iterable[dict[str, Any]]) -> bytes:
    request = ExportTraceServiceRequest()
    scopes: dict[str, Any] = {}
    for r in rows:
        scope = scopes.get(r["resource_attributes"])
        if scope is None:
            rs = request.resource_spans.add()
            rs.resource.attributes.extend(key_values(orjson.loads(r["resource_attributes"])))
            scope = rs.scope_spans.add()
            scope.scope.name = "gen"
            scopes[r["resource_attributes"]] = scope
        span = scope.spans.add(trace_id=r["trace_id"], span_id=r["span_id"], name=r["span_name"], kind=2,
                               start_time_unix_nano=r["start_time_unix_nano"],
                               end_time_unix_nano=r["end_time_unix_nano"])
        if r["parent_span_id"] is not None:
            span.parent_span_id = r["parent_span_id"]
        span.attributes.extend(key_values(orjson.loads(r["attributes"])))
        span.status.code = r["status_code"]
    return request.SerializeToString()


def rows_of(traces: Iterable[GenTrace]) -> list[dict[str, Any]]:
    return [r for t in traces for r in t.rows]
