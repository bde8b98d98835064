"""Serves the web UI: one HTML shell for every page, and the static ES modules and stylesheet.

The UI ships as package data of tracehouse.ui (templates/, static/); this module only reads those
files. It imports no code from tracehouse.ui, which sits beside tracehouse.api in the layers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

# The security headers of these pages, and of every other response, come from the middleware that
# tracehouse.api.app adds (tracehouse.access.GuardMiddleware).


def _shell() -> str:
    return (UI_DIR / "templates" / "page.html").read_text(encoding="utf-8")


def install(app: FastAPI) -> None:
    """Add the UI routes and /static to `app`."""
    app.mount("/static", StaticFiles(directory=UI_DIR / "static"), name="static")
    app.include_router(_router())


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
