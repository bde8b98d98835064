"""Jaeger's v3 API (/api/v3/...), as jaeger-idl's api_v3 proto and the current Jaeger UI define it:
services, operations, traces as OTLP-JSON, trace summaries (the Jaeger UI's search since 2.19) and
dependencies. Every answer under /api/v3, errors and unknown routes included, is in v3's shapes: an
error is {"error": {"httpCode": N, "message": "..."}} (GRPCGatewayError).

Parameters take Jaeger's camelCase names and its deprecated snake_case aliases. Beyond Jaeger:
query.serviceName and the time window are optional on /api/v3/traces, and query.sort and
query.durationScope are accepted (see docs/api.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.jaeger_v1 import lower_kind
from tracehouse.api.responses import json_response
from tracehouse.query.otlp_json import traces_data
from tracehouse.query.service import QueryService
from tracehouse.store import StoreError

_GET_ROUTES = ("/api/v3/services", "/api/v3/operations", "/api/v3/traces", "/api/v3/trace-summaries",
               "/api/v3/dependencies")
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def error(status: int, message: str) -> Response:
    return json_response({"error": {"httpCode": status, "message": message}}, status)


def _answer(build: Callable[[], Response]) -> Response:
    """Run a handler; a bad parameter is a v3 400, a store failure a v3 500."""
    try:
        return build()
    except params.ParamError as exc:
        return error(400, str(exc))
    except StoreError as exc:
        return error(500, str(exc))


def _flatten_body(body: bytes) -> dict[str, str]:
    """A POST body {"query": {...}} (FindTracesRequest / FindTraceSummariesRequest in proto3 JSON) as
    the GET binding's query.* parameters."""
    try:
        doc = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise params.ParamError("query", "the body is not JSON") from None
    query = doc.get("query") if isinstance(doc, dict) else None
    if not isinstance(query, dict):
        raise params.ParamError("query", 'the body must be {"query": {...}}')
    flat: dict[str, str] = {}
    for key, value in query.items():
        if isinstance(value, dict):
            flat[f"query.{key}"] = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            flat[f"query.{key}"] = "true" if value else "false"
        elif value is not None:
            flat[f"query.{key}"] = str(value)
    return flat


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["Jaeger v3"])

    @api.get("/api/v3/services")
    def services() -> Response:
        return _answer(lambda: json_response({"services": service.services()}))

    @api.get("/api/v3/operations")
    def operations(request: Request) -> Response:
        def build() -> Response:
            q = request.query_params
            p_kind = "span_kind" if q.get("span_kind") and not q.get("spanKind") else "spanKind"
            kind = params.span_kind(q.get(p_kind), p_kind)
            ops = service.operations(q.get("service") or None, kind)
            return json_response({"operations": [{"name": op.name, "spanKind": lower_kind(op.span_kind)}
                                                 for op in ops]})
        return _answer(build)

    def find_traces(q: Any) -> Response:
        traces = service.search_traces(params.v3_trace_query(q))
        if not traces:
            return error(404, "No traces found")
        return json_response({"result": traces_data([span for spans in traces for span in spans])})

    @api.get("/api/v3/traces")
    def get_find_traces(request: Request) -> Response:
        return _answer(lambda: find_traces(request.query_params))

    @api.post("/api/v3/traces")
    async def post_find_traces(request: Request) -> Response:
        body = await request.body()
        return _answer(lambda: find_traces(_flatten_body(body)))

    def trace_summaries(q: Any) -> Response:
        # Jaeger's gateway requires the time window here; summaries never depend on query.rawTraces.
        query = params.v3_trace_query(q, require_window=True)
        return json_response(service.v3_trace_summaries(query))

    @api.get("/api/v3/trace-summaries")
    def get_trace_summaries(request: Request) -> Response:
        return _answer(lambda: trace_summaries(request.query_params))

    @api.post("/api/v3/trace-summaries")
    async def post_trace_summaries(request: Request) -> Response:
        body = await request.body()
        return _answer(lambda: trace_summaries(_flatten_body(body)))

    @api.get("/api/v3/traces/{trace_id}")
    def get_trace(trace_id: str, request: Request) -> Response:
        def build() -> Response:
            tid = params.trace_id(trace_id, "trace_id")
            q = request.query_params
            p_raw = "raw_traces" if q.get("raw_traces") and not q.get("rawTraces") else "rawTraces"
            params.boolean(q.get(p_raw), p_raw)  # stored spans are never adjusted: always raw
            for name in ("startTime", "start_time", "endTime", "end_time"):
                if q.get(name):
                    params.rfc3339_ns(q[name], name)  # validated; a lookup by id needs no window
            spans = service.traces([tid]).get(tid)
            if not spans:
                return error(404, f"trace {tid} not found")
            return json_response({"result": traces_data(spans)})
        return _answer(build)

    @api.get("/api/v3/dependencies")
    def dependencies(request: Request) -> Response:
        def build() -> Response:
            q = request.query_params
            window = []
            for camel, snake in (("startTime", "start_time"), ("endTime", "end_time")):
                name = camel if q.get(camel) or not q.get(snake) else snake
                if not q.get(name):
                    raise params.ParamError(camel, f"missing required parameter {camel} (an RFC 3339 time)")
                window.append(params.rfc3339_ns(q[name], name))
            start, end = window
            if end <= start:
                raise params.ParamError("endTime", "endTime must be after startTime")
            links = service.dependencies(start, end)
            # Dependency.call_count is a uint64: a decimal string in proto3 JSON.
            return json_response({"dependencies": [
                {"parent": link.parent, "child": link.child, "callCount": str(link.call_count)}
                for link in links]})
        return _answer(build)

    @api.api_route("/api/v3/{rest:path}", methods=_ALL_METHODS, include_in_schema=False)
    def unknown(request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if path in _GET_ROUTES or path.startswith("/api/v3/traces/"):
            return error(405, f"method {request.method} is not allowed on {path}")
        return error(404, f"no such endpoint: {request.url.path} (see /api/docs)")

    return api
