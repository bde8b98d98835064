"""The query-port application: health, the SQL endpoint, the Jaeger-compatible API and the UI."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tracehouse.api import analyze_routes, sql_routes
from tracehouse.query.service import QueryService


def create_app(service: QueryService) -> FastAPI:
    app = FastAPI(title="tracehouse", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "data_dir": str(service.settings.data_dir)})

    app.include_router(sql_routes.router(service))
    app.include_router(analyze_routes.router(service))
    return app
