"""Access control of the query port: the query token, the sign-in page that turns it into a cookie, and
the cross-site request checks that a cookie needs (docs/security.md).

API clients (tracehouse's CLI, `tracehouse.connect`, Grafana, scripts) send `Authorization: Bearer
<token>`. A browser cannot add that header to a page load, so /login takes the token once and sets a
cookie: HttpOnly (page scripts never see it), SameSite=Strict (another site's page cannot make the
browser send it) and Secure under TLS. The cookie holds an HMAC of the token, not the token itself,
so it stops working when the token is changed. A request authenticated by the cookie that changes
something (POST /api/sql, POST /api/traces) must also come from this origin (Origin or
Sec-Fetch-Site), the second wall against cross-site request forgery behind SameSite.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from importlib import resources
from urllib.parse import parse_qs, quote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tracehouse.access import TokenCheck, bearer_token

COOKIE = "tracehouse_session"
_COOKIE_MAX_AGE = 30 * 86400
# Paths served without a token: the health check (the CLI and supervisors probe it), the sign-in page
# and the UI's static files (the same for every installation; they hold no data).
_PUBLIC_PREFIXES = ("/static/", "/analytics-static/")
_PUBLIC_PATHS = frozenset({"/healthz", "/login", "/logout"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_LOGIN_BODY = 16 * 1024


def session_value(token: str) -> str:
    """What the cookie holds for `token`."""
    return hmac.new(token.encode(), b"tracehouse-ui-session-v1", hashlib.sha256).hexdigest()


class QueryAccess:
    """Decides whether one request to the query port may proceed."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self.check = TokenCheck(tokens)
        self._sessions = TokenCheck(session_value(t) for t in tokens)

    @property
    def required(self) -> bool:
        return self.check.required

    def by_header(self, request: Request) -> bool:
        return self.check.required and self.check.accepts(bearer_token(request.headers.get("authorization")))

    def by_cookie(self, request: Request) -> bool:
        return self.check.required and self._sessions.accepts(request.cookies.get(COOKIE))


def same_origin(request: Request) -> bool:
    """True when a browser says this request comes from a page of this backend.

    Origin first; our pages' `Referrer-Policy: no-referrer` makes Chromium send `Origin: null` on a
    form post, so then Sec-Fetch-Site, which browsers set and pages cannot ("none": the user typed it)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        # Host part only: behind a TLS-terminating proxy the scheme seen here is http.
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return request.headers.get("sec-fetch-site") in ("same-origin", "none")


class QueryAuthMiddleware:
    """Lets a request through when it carries the query token (header) or the session cookie; answers the
    rest with 401 (API) or a redirect to /login (a browser opening a page). Serves /login and /logout."""

    def __init__(self, app: ASGIApp, access: QueryAccess) -> None:
        self.app = app
        self.access = access
        self._login_page = resources.files("tracehouse.ui").joinpath("templates", "login.html").read_text("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.access.required:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = request.url.path
        if path == "/login":
            await self._login(request)(scope, receive, send)
            return
        if path == "/logout":
            await self._logout(request)(scope, receive, send)
            return
        if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES) or self.access.by_header(request):
            await self.app(scope, receive, send)
            return
        if self.access.by_cookie(request):
            if request.method not in _SAFE_METHODS and not same_origin(request):
                await _refuse(403, "cross-site request refused: this request changes or runs something and "
                                   "did not come from a tracehouse page", "forbidden")(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            await RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)(scope, receive, send)
            return
        await _refuse(401, "this tracehouse needs its query token: send `Authorization: Bearer <token>` "
                           "(the CLI and tracehouse.connect read TRACEHOUSE_QUERY_TOKEN or "
                           "TRACEHOUSE_QUERY_TOKEN_FILE)", "unauthenticated")(scope, receive, send)

    def _login(self, request: Request) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if request.method in ("GET", "HEAD"):
                response = self._page(request.query_params.get("next", "/search"), "", 200)
            elif request.method == "POST":
                response = await self._sign_in(request)
            else:
                response = Response(status_code=405, headers={"Allow": "GET, POST"})
            await response(scope, receive, send)

        return app

    async def _sign_in(self, request: Request) -> Response:
        if not same_origin(request):
            return _refuse(403, "cross-site sign-in refused", "forbidden")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_LOGIN_BODY:
                return _refuse(413, "sign-in form too large", "bad_request")
        form = parse_qs(body.decode("utf-8", errors="replace"))
        token = (form.get("token") or [""])[0].strip()
        target = _local_path((form.get("next") or ["/search"])[0])
        if not self.access.check.accepts(token):
            return self._page(target, "That token is not accepted.", 401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, session_value(token), max_age=_COOKIE_MAX_AGE, path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    def _logout(self, request: Request) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if request.method != "POST":
                response: Response = Response(status_code=405, headers={"Allow": "POST"})
            elif not same_origin(request):
                response = _refuse(403, "cross-site sign-out refused", "forbidden")
            else:
                response = RedirectResponse("/login", status_code=303)
                response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            await response(scope, receive, send)

        return app

    def _page(self, next_path: str, error: str, status: int) -> Response:
        page = self._login_page.replace("{next}", html.escape(_local_path(next_path), quote=True))
        if error:
            page = page.replace("<!--error-->", f'<p class="error" role="alert">{html.escape(error)}</p>')
        return Response(page, status_code=status, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})


def _local_path(value: str) -> str:
    """Only a path on this site is a place to go after signing in (never //evil.example or a URL)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 0x20 for c in value):
        return "/search"
    return value


def _refuse(status: int, message: str, kind: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="tracehouse"'} if status == 401 else None
    return JSONResponse({"error": message, "kind": kind}, status_code=status, headers=headers)
