"""Serves the web UI: one HTML shell for every page, the static ES modules and stylesheet, and a strict
Content-Security-Policy on everything but the interactive API docs.

The UI ships as package data of tracehouse.ui (templates/, static/); this module only reads those
files. It imports no code from tracehouse.ui, which sits beside tracehouse.api in the layers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

# Scripts and styles only from this origin (no inline code, no eval); data is fetched from this
# origin only; the page cannot be framed. Pages build DOM with textContent, and this is the second
# wall should a bug ever let markup through.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The pages and files this module serves. (FastAPI's Swagger page loads scripts from a CDN, and the
# console and analysis pages are served by analyze_routes with rules of their own.)
_PAGES = ("/search", "/trace", "/compare", "/map", "/monitor", "/sampling", "/static/")


def _shell() -> str:
    return (UI_DIR / "templates" / "page.html").read_text(encoding="utf-8")


def install(app: FastAPI) -> None:
    """Add the UI routes, /static, and the security headers of those to `app`."""
    app.mount("/static", StaticFiles(directory=UI_DIR / "static"), name="static")
    app.include_router(_router())

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path == "/" or path.startswith(_PAGES):
            for key, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
        return response


def _router() -> APIRouter:
    ui = APIRouter(include_in_schema=False)
    shell = _shell()

    @ui.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/search")

    # Every page is the same shell; the browser-side router reads the path and query string.
    @ui.get("/search")
    @ui.get("/trace")
    @ui.get("/trace/{trace_id}")
    @ui.get("/compare")
    @ui.get("/map")
    @ui.get("/monitor")
    @ui.get("/sampling")
    def page() -> HTMLResponse:
        return HTMLResponse(shell, headers={"Cache-Control": "no-cache"})

    return ui
