"""The Jaeger UI's Deep Dependency Graph endpoint, /analytics/v1/dependencies.

Parameters: `service` (required), `operation`, and `start`/`end` in unix milliseconds (absent or 0:
the last DEFAULT_LOOKBACK_MS up to now). The answer is the payload the UI's DDG page reads,
{"dependencies": [{"path": [{"service", "operation"}], "attributes": [{"key", "value"}]}]}; errors
use Jaeger's v1 envelope.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api import params
from tracehouse.api.jaeger_v1 import error
from tracehouse.api.responses import json_response
from tracehouse.query.service import QueryService
from tracehouse.store import StoreError

MS = 10**6
DEFAULT_LOOKBACK_MS = 24 * 3600 * 1000


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["Jaeger analytics"])

    @api.get("/analytics/v1/dependencies")
    def deep_dependencies(request: Request) -> Response:
        q = request.query_params
        try:
            name = q.get("service")
            if not name:
                raise params.ParamError("service", "required: the focal service of the graph")
            end_ms = params.integer(q["end"], "end", minimum=0) if q.get("end") else 0
            end_ms = end_ms or time.time_ns() // MS
            start_ms = params.integer(q["start"], "start", minimum=0) if q.get("start") else 0
            start_ms = start_ms or end_ms - DEFAULT_LOOKBACK_MS
            if start_ms >= end_ms:
                raise params.ParamError("start", "must be before end")
            payload = service.deep_dependencies(name, q.get("operation") or None, start_ms * MS, end_ms * MS)
        except params.ParamError as exc:
            return error(400, str(exc))
        except StoreError as exc:
            return error(500, str(exc))
        return json_response(payload)

    return api
