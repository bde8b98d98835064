"""POST /api/import: `tracehouse import` through a running backend. The body is one trace file
(query.importer formats); `retention` says how long its traces are kept: `forever` (the default: until
deleted) or a duration (7d, 12h, ...) from now. The backend's own retention leaves them alone."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tracehouse.api.responses import json_response
from tracehouse.query.importer import ImportFormatError, keep_until
from tracehouse.query.service import ImportResult, QueryService
from tracehouse.settings import SettingError
from tracehouse.store import StoreError


def result_json(result: ImportResult) -> dict[str, object]:
    return {"received": result.received, "stored": result.stored, "rejected": result.rejected,
            "message": result.message, "traces": result.traces, "format": result.format,
            "keepUntilUnixNano": result.keep_until_unix_nano}


def router(service: QueryService) -> APIRouter:
    api = APIRouter(tags=["tracehouse"])

    @api.post("/api/import")
    async def import_file(request: Request) -> Response:
        try:
            until = keep_until(request.query_params.get("retention"))
        except SettingError as exc:
            return json_response({"error": f"parameter 'retention': {exc} (or 'forever')"}, 400)
        body = await request.body()
        try:
            return json_response(result_json(service.import_file(body, until)))
        except ImportFormatError as exc:
            return json_response({"error": f"cannot import this file: {exc}"}, 400)
        except StoreError as exc:
            return json_response({"error": str(exc)}, 500)

    return api
