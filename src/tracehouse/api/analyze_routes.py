"""The analyses over HTTP, the SQL console's catalog, and the console and analysis pages.

GET /api/analyze/{name}?since=1h&service=..&attr=k=v&slowest=5%  -> a Report as JSON
GET /api/sql/catalog                                            -> views, columns, example queries
GET /console, /analyze, /analyze/{name}                         -> the UI pages
GET /analytics-static/{file}                                    -> their scripts and styles
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from importlib import resources

import pyarrow as pa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tracehouse.model import SPAN_ROW_SCHEMA
from tracehouse.query.analyses import NAMES, Analyses, AnalysisError
from tracehouse.query.service import QueryService
from tracehouse.store import SqlCatalog, StoreError

_UI = resources.files("tracehouse.ui")
# Only these files are served: the console's and the analyses' own (see the ownership in docs/ui.md).
_STATIC = {"console.js": "text/javascript", "console.css": "text/css", "analyze.js": "text/javascript"}


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(_UI.joinpath("templates", name).read_text(encoding="utf-8"))


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def router(service: QueryService) -> APIRouter:
    api = APIRouter()

    @api.get("/api/analyze")
    def list_analyses() -> JSONResponse:
        return JSONResponse({"analyses": list(NAMES)})

    @api.get("/api/analyze/{name}")
    async def analyze(name: str, request: Request) -> JSONResponse:
        try:
            analyses = Analyses(service.store)
            report = await run_in_threadpool(analyses.run, name, _params(request))
        except AnalysisError as exc:
            return JSONResponse({"error": str(exc), "kind": "bad_request"}, status_code=400)
        except StoreError as exc:
            return JSONResponse({"error": str(exc), "kind": "store"}, status_code=503)
        return JSONResponse(report.to_json())

    @api.get("/api/export/spans")
    async def export_spans(request: Request) -> Response:
        """The spans of a window as an Arrow IPC stream (what `tracehouse export --url` reads), sent a
        slice at a time as the store produces them: an export of any size holds one slice in memory."""

        def first() -> tuple[pa.RecordBatch | None, Iterator[pa.RecordBatch]]:
            batches = iter(Analyses(service.store).export_span_batches(_params(request)))
            return next(batches, None), batches

        try:
            head, rest = await run_in_threadpool(first)   # errors in the filter or the store show here
        except AnalysisError as exc:
            return JSONResponse({"error": str(exc), "kind": "bad_request"}, status_code=400)
        except StoreError as exc:
            return JSONResponse({"error": str(exc), "kind": "store"}, status_code=503)

        def stream() -> Iterator[bytes]:
            # The IPC stream format: the schema, each batch as a message, then the end-of-stream marker.
            yield SPAN_ROW_SCHEMA.serialize().to_pybytes()
            if head is not None:
                yield head.serialize().to_pybytes()
            for batch in rest:
                yield batch.serialize().to_pybytes()
            yield b"\xff\xff\xff\xff\x00\x00\x00\x00"

        return StreamingResponse(stream(), media_type="application/vnd.apache.arrow.stream")

    @api.get("/api/sql/catalog")
    def catalog() -> JSONResponse:
        store = service.store
        if not isinstance(store, SqlCatalog):
            return JSONResponse({"dialect": store.sql_dialect(), "relations": [], "examples": []})
        return JSONResponse({
            "dialect": store.sql_dialect(),
            "relations": [asdict(t) for t in store.sql_catalog()],
            "examples": [asdict(e) for e in store.sql_examples()],
            "max_rows": service.settings.sql_max_rows,
            "timeout_seconds": service.settings.sql_timeout_seconds,
        })

    @api.get("/console", response_class=HTMLResponse)
    def console_page() -> HTMLResponse:
        return _page("console.html")

    @api.get("/analyze", response_class=HTMLResponse)
    def analyze_index() -> HTMLResponse:
        return _page("analyze.html")

    @api.get("/analyze/{name}", response_class=HTMLResponse)
    def analyze_page(name: str) -> HTMLResponse:
        if name not in NAMES:
            raise HTTPException(404, f"no analysis named {name}")
        return _page("analyze.html")

    @api.get("/analytics-static/{file}")
    def static(file: str) -> Response:
        if file not in _STATIC:
            raise HTTPException(404)
        return Response(_UI.joinpath("static", file).read_bytes(), media_type=_STATIC[file],
                        headers={"Cache-Control": "no-cache"})

    return api
