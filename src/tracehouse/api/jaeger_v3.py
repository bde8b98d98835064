"""Jaeger's v3 API (/api/v3/...), as the current Jaeger UI speaks it; traces come back as OTLP-JSON.

Unlike Jaeger, query.serviceName and the time window are optional, and query.sort and
query.durationScope are accepted (see docs/api.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.jaeger_v1 import lower_kind
from tracehouse.api.responses import json_response
from tracehouse.query.otlp_json import traces_data
from tracehouse.query.service import QueryService


def error(status: int, message: str) -> Response:
    return json_response({"error": {"httpCode": status, "message": message}}, status)


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["Jaeger v3"])

    @api.get("/api/v3/services")
    def services() -> Response:
        return json_response({"services": service.services()})

    @api.get("/api/v3/operations")
    def operations(request: Request) -> Response:
        q = request.query_params
        try:
            kind = params.span_kind(q.get("spanKind") or q.get("span_kind"), "spanKind")
        except params.ParamError as exc:
            return error(400, str(exc))
        ops = service.operations(q.get("service") or None, kind)
        return json_response({"operations": [{"name": op.name, "spanKind": lower_kind(op.span_kind)}
                                             for op in ops]})

    @api.get("/api/v3/traces")
    def find_traces(request: Request) -> Response:
        try:
            query = params.v3_trace_query(request.query_params)
        except params.ParamError as exc:
            return error(400, str(exc))
        traces = service.search_traces(query)
        if not traces:
            return error(404, "no trace matches the query")
        return json_response({"result": traces_data([span for spans in traces for span in spans])})

    @api.get("/api/v3/traces/{trace_id}")
    def get_trace(trace_id: str) -> Response:
        try:
            tid = params.trace_id(trace_id, "trace_id")
        except params.ParamError as exc:
            return error(400, str(exc))
        spans = service.traces([tid]).get(tid)
        if not spans:
            return error(404, f"trace {tid} not found")
        return json_response({"result": traces_data(spans)})

    return api
