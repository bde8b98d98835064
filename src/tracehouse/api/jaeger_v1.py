"""Jaeger's v1 JSON API (/api/services, /api/operations, /api/traces, /api/dependencies), in Jaeger's
response shapes so Grafana's Jaeger data source and other Jaeger clients work unchanged.

Beyond Jaeger: search needs no service; `sort` (recent, longest, most_spans, most_errors) and
`durationScope` (trace, the default, or span: Jaeger's own meaning) are accepted; `spanKind` too.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.responses import json_response
from tracehouse.model import DurationScope
from tracehouse.query.jaeger import jaeger_trace
from tracehouse.query.otlp_transform import TransformError, jaeger_traces_from_otlp
from tracehouse.query.service import QueryService

DEFAULT_DEPENDENCY_LOOKBACK_MS = 24 * 3600 * 1000


def envelope(data: Any, total: int | None = None) -> dict[str, Any]:
    if total is None:
        total = len(data) if isinstance(data, list) else 0
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": None}


def error(status: int, message: str) -> Response:
    return json_response({"data": None, "total": 0, "limit": 0, "offset": 0,
                          "errors": [{"code": status, "msg": message}]}, status)


def lower_kind(kind: str) -> str:
    return "" if kind == "UNSPECIFIED" else kind.lower()


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["Jaeger v1"])

    @api.get("/api/services")
    def services() -> Response:
        return json_response(envelope(service.services()))

    @api.get("/api/services/{name}/operations")
    def service_operations(name: str) -> Response:
        names = sorted({op.name for op in service.operations(name)})
        return json_response(envelope(names))

    @api.get("/api/operations")
    def operations(request: Request) -> Response:
        q = request.query_params
        try:
            kind = params.span_kind(q.get("spanKind"), "spanKind")
        except params.ParamError as exc:
            return error(400, str(exc))
        ops = service.operations(q.get("service") or None, kind)
        return json_response(envelope([{"name": op.name, "spanKind": lower_kind(op.span_kind)} for op in ops]))

    @api.get("/api/traces")
    def find_traces(request: Request) -> Response:
        q = request.query_params
        try:
            ids = [params.trace_id(t, "traceID") for t in q.getlist("traceID") if t]
            if ids:
                found = service.traces(ids)
                traces = [found[t] for t in dict.fromkeys(ids) if t in found]
                if not traces:
                    return error(404, "trace not found")
            else:
                # min/maxDuration match spans here, as in Jaeger (durationScope=trace for whole traces).
                traces = service.search_traces(params.v1_trace_query(q, q.getlist("tag"), DurationScope.SPAN))
        except params.ParamError as exc:
            return error(400, str(exc))
        return json_response(envelope([jaeger_trace(spans) for spans in traces]))

    @api.get("/api/traces/{trace_id}")
    def get_trace(trace_id: str) -> Response:
        try:
            tid = params.trace_id(trace_id, "traceID")
        except params.ParamError as exc:
            return error(400, str(exc))
        spans = service.traces([tid]).get(tid)
        if not spans:
            return error(404, "trace not found")
        return json_response(envelope([jaeger_trace(spans)]))

    @api.post("/api/transform")
    async def transform(request: Request) -> Response:
        """OTLP-JSON in (an exporter's file, or /api/v3's answer), Jaeger JSON out, as the Jaeger UI
        uses it to open OTLP files. Nothing is stored."""
        try:
            traces = jaeger_traces_from_otlp(await request.body())
        except TransformError as exc:
            return error(400, str(exc))
        return json_response(envelope(traces, total=0))

    @api.get("/api/dependencies")
    def dependencies(request: Request) -> Response:
        q = request.query_params
        try:
            end_ms = params.integer(q["endTs"], "endTs", minimum=0) if q.get("endTs") else time.time_ns() // 10**6
            lookback_ms = (params.integer(q["lookback"], "lookback", minimum=0) if q.get("lookback")
                           else DEFAULT_DEPENDENCY_LOOKBACK_MS)
        except params.ParamError as exc:
            return error(400, str(exc))
        links = service.dependencies((end_ms - lookback_ms) * 10**6, end_ms * 10**6)
        return json_response(envelope([
            {"parent": link.parent, "child": link.child, "callCount": link.call_count} for link in links]))

    return api
