"""The query-port application: health, the SQL endpoint, the Jaeger-compatible APIs, tracehouse's own
API, and the UI."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from tracehouse.access import CONTENT_SECURITY_POLICY, GuardMiddleware, host_check, load_tokens
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
from tracehouse.api.security import QueryAccess, QueryAuthMiddleware
from tracehouse.query.service import QueryService
from tracehouse.store import StoreError

_OPENAPI_URL = "/api/openapi.json"


def create_app(service: QueryService) -> FastAPI:
    settings = service.settings
    access = QueryAccess(load_tokens(settings.query_token, settings.query_token_file,
                                     "--query-token", "--query-token-file"))
    app = FastAPI(title="tracehouse", docs_url=None, openapi_url=_OPENAPI_URL, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        # With a query token the health check stays public, so it names nothing about the machine.
        body = {"status": "ok"} if access.required else {"status": "ok", "data_dir": str(settings.data_dir)}
        return JSONResponse(body)

    @app.exception_handler(StoreError)
    def store_failed(request: object, exc: StoreError) -> JSONResponse:
        # The store could not answer (a ClickHouse shard unreachable, say): say why, in Jaeger's error
        # shape, rather than a bare 500 or a partial answer.
        return JSONResponse({"data": None, "errors": [{"code": 503, "msg": str(exc)}]}, status_code=503)

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
    _add_api_docs(app)
    # The last added runs first: the Host check and the headers wrap the token check, so a refused
    # request gets them too.
    app.add_middleware(QueryAuthMiddleware, access=access)
    app.add_middleware(GuardMiddleware, hosts=host_check(settings.host, settings.allowed_hosts, access.required))
    return app


def _add_api_docs(app: FastAPI) -> None:
    """FastAPI's Swagger page, with a Content-Security-Policy of its own: it loads Swagger UI from a CDN
    and runs one inline script, which is allowed by its hash (and nothing else inline is)."""
    page = get_swagger_ui_html(openapi_url=_OPENAPI_URL, title="tracehouse API").body
    html = bytes(page).decode()
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S))
    cdn = "https://cdn.jsdelivr.net"
    policy = (CONTENT_SECURITY_POLICY
              .replace("script-src 'self'", f"script-src 'self' {cdn} {hashes}")
              .replace("style-src 'self'", f"style-src 'self' {cdn}")
              .replace("img-src 'self' data: blob:", "img-src 'self' data: blob: https://fastapi.tiangolo.com"))

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})
