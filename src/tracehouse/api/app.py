"""The query-port application: health, the SQL endpoint, the Jaeger-compatible APIs, tracehouse's own
API, and the UI."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tracehouse.api import (
    analyze_routes,
    import_routes,
    jaeger_analytics,
    jaeger_metrics,
    jaeger_v1,
    jaeger_v3,
    sampling_routes,
    sql_routes,
    traces,
    ui_pages,
)
from tracehouse.query.service import QueryService


def create_app(service: QueryService) -> FastAPI:
    app = FastAPI(title="tracehouse", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "data_dir": str(service.settings.data_dir)})

    app.include_router(sql_routes.router(service))
    app.include_router(analyze_routes.router(service))
    app.include_router(jaeger_v1.router(service))
    app.include_router(jaeger_v3.router(service))
    app.include_router(traces.router(service))
    app.include_router(jaeger_metrics.router(service))
    app.include_router(jaeger_analytics.router(service))
    app.include_router(import_routes.router(service))
    app.include_router(sampling_routes.router(service))
    ui_pages.install(app)
    return app
