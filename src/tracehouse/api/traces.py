"""tracehouse's own JSON endpoints, for its UI and scripts: trace summaries, the trace view, file
upload, trace compare and the service map. Each is a thin shell over the query service."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.responses import json_response
from tracehouse.model import TraceSummary
from tracehouse.query.service import QueryService, TraceNotFoundError
from tracehouse.query.trace_files import TraceFileError
from tracehouse.store import StoreError

DEFAULT_MAP_LOOKBACK = "1h"


def error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def summary_json(s: TraceSummary) -> dict[str, Any]:
    return {
        "traceId": s.trace_id,
        "rootService": s.root_service,
        "rootName": s.root_span_name,
        "startTime": s.start_time_unix_nano // 1000,
        "duration": s.duration_ns,
        "spanCount": s.span_count,
        "errorCount": s.error_count,
        "spansPerService": s.spans_per_service,
    }


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["tracehouse"])

    @api.get("/api/search")
    def search(request: Request) -> Response:
        """Trace summaries; the same parameters as /api/traces."""
        q = request.query_params
        try:
            query = params.v1_trace_query(q, q.getlist("tag"))
        except params.ParamError as exc:
            return error(400, str(exc))
        mode = q.get("reconstructed", "include")
        if mode not in ("include", "exclude", "only"):
            return error(400, "reconstructed: must be include, exclude or only")
        found = service.find_traces(query)
        roles = service.reconstruction_of([s.trace_id for s in found])
        if mode == "exclude":
            found = [s for s in found if s.trace_id not in roles]
        elif mode == "only":
            found = [s for s in found if s.trace_id in roles]
        return json_response({"traces": [{**summary_json(s), "reconstructed": roles.get(s.trace_id)} for s in found],
                              "sort": query.sort.value, "durationScope": query.duration_scope.value,
                              "reconstructed": mode})

    @api.get("/api/view/traces/{trace_id}")
    def trace_view(trace_id: str, request: Request) -> Response:
        """?reconstructed=0 shows the trace as received, without fragments joined by inferred links."""
        reconstructed = request.query_params.get("reconstructed", "1") not in ("0", "false", "no")
        try:
            return json_response(service.trace_view(params.trace_id(trace_id, "traceID"), reconstructed))
        except params.ParamError as exc:
            return error(400, str(exc))
        except TraceNotFoundError as exc:
            return error(404, str(exc))

    @api.get("/api/view/traces/{trace_id}/spans/{span_id}/value")
    def full_value(trace_id: str, span_id: str, key: str, where: str = "span") -> Response:
        """The full value of an attribute the trace view cut (its payload holds the first 2,048
        characters of longer values): of the span, its resource (where=resource) or an event
        (where=event:N)."""
        try:
            return json_response({"value": service.full_value(params.trace_id(trace_id, "traceID"), span_id, key,
                                                              where)})
        except params.ParamError as exc:
            return error(400, str(exc))
        except TraceNotFoundError as exc:
            return error(404, str(exc))

    @api.post("/api/view/upload")
    async def upload(request: Request) -> Response:
        """The view of a trace file in the request body (OTLP-JSON or Jaeger JSON). Nothing is stored."""
        body = await request.body()
        if len(body) > service.settings.max_body_bytes:
            return error(413, f"the file is larger than {service.settings.max_body_bytes} bytes")
        try:
            return json_response(service.file_view(body))
        except TraceFileError as exc:
            return error(400, f"file: {exc}")

    @api.get("/api/compare")
    def compare(request: Request) -> Response:
        q = request.query_params
        try:
            a = params.trace_id(q.get("a", ""), "a")
            b = params.trace_id(q.get("b", ""), "b")
            return json_response(service.compare(a, b))
        except params.ParamError as exc:
            return error(400, str(exc))
        except TraceNotFoundError as exc:
            return error(404, str(exc))

    @api.get("/api/service-map")
    def service_map(request: Request) -> Response:
        """Services and calls between them in a window: start/end (unix µs) or lookback (default 1h)."""
        q = request.query_params
        try:
            end = params.integer(q["end"], "end", minimum=0) * 1000 if q.get("end") else params.now_ns()
            if q.get("start"):
                start = params.integer(q["start"], "start", minimum=0) * 1000
            else:
                start = end - params.lookback_ns(q.get("lookback") or DEFAULT_MAP_LOOKBACK)
            if start > end:
                raise params.ParamError("start", "must not be after end")
        except params.ParamError as exc:
            return error(400, str(exc))
        return json_response({"start": start // 1000, "end": end // 1000, **service.service_map(start, end)})

    @api.post("/api/reconstruct")
    def reconstruct(request: Request) -> Response:
        """Infer parent links where propagation is broken, for calls that started between start and
        end (unix µs; default the last hour). Replaces that range's inferred links; spans are never
        changed. The figures of the run come back."""
        q = request.query_params
        try:
            end = params.integer(q["end"], "end", minimum=0) * 1000 if q.get("end") else params.now_ns()
            if q.get("start"):
                start = params.integer(q["start"], "start", minimum=0) * 1000
            else:
                start = end - params.lookback_ns(q.get("lookback") or DEFAULT_MAP_LOOKBACK)
            if start >= end:
                raise params.ParamError("start", "must be before end")
        except params.ParamError as exc:
            return error(400, str(exc))
        try:
            report = service.reconstruct(start, end)
        except StoreError as exc:
            return error(503, str(exc))
        return json_response({"start": start // 1000, "end": end // 1000, **dataclasses.asdict(report)})

    return api
