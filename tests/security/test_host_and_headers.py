"""The DNS-rebinding check on both HTTP ports, the security headers on every route of the query app's
route table, and the refusal to expose a backend without tokens: against real `tracehouse up` processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tracehouse.api.app import create_app
from tracehouse.app.wiring import open_store
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings

from .conftest import INGEST_TOKEN, QUERY_TOKEN, SecureBackend, SecureBackendFactory

SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


@pytest.fixture(scope="module")
def plain(secure_backends: SecureBackendFactory) -> Iterator[SecureBackend]:
    backend = secure_backends("--allowed-hosts", "traces.example.org, other.example")
    yield backend
    assert backend.alive()
    assert "Traceback" not in backend.log(), backend.log()[-3000:]
    assert backend.stop() == 0


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


# ---- Host

@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example",
                                  "traces.example.org.attacker.example"])
def test_a_foreign_host_name_is_refused_on_both_http_ports(plain: SecureBackend, host: str) -> None:
    for url, method in ((f"{plain.query_url}/api/services", "GET"), (f"{plain.query_url}/search", "GET"),
                        (f"{plain.query_url}/api/sql", "POST"), (plain.traces_url, "POST")):
        response = httpx.request(method, url, headers={"Host": f"{host}:{_port(url)}",
                                                       "Content-Type": "application/json"}, content=b"{}")
        assert response.status_code == 421, (url, response.status_code, response.text)
        assert "--allowed-hosts" in response.text and host in response.text
        for name in SECURITY_HEADERS:
            assert name in response.headers, (url, name)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST", "[::1]", "traces.example.org",
                                  "other.example", "10.1.2.3"])
def test_loopback_names_ip_literals_and_configured_names_are_served(plain: SecureBackend, host: str) -> None:
    response = httpx.get(f"{plain.query_url}/api/services", headers={"Host": f"{host}:{_port(plain.query_url)}"})
    assert response.status_code == 200, response.text
    otlp = httpx.post(plain.traces_url, content=b"{}", headers={"Host": host, "Content-Type": "application/json"})
    assert otlp.status_code == 200, otlp.text


# ---- Security headers on every route of the route table

def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's wrapper of an included router
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _route_table(tmp: Path) -> list[tuple[str, str]]:
    settings = Settings(data_dir=tmp)
    service = QueryService(open_store(settings), settings)
    try:
        app = create_app(service)
        table: list[tuple[str, str]] = []
        for route in _routes(list(app.routes)):
            path = str(route.path)
            methods = sorted(getattr(route, "methods", None) or {"GET"})
            table += [(m, path) for m in methods if m != "HEAD"]
        return table
    finally:
        service.close()


_EXAMPLES = {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "name": "latency",
             "file": "console.js"}


def test_every_route_sends_the_security_headers(plain: SecureBackend, tmp_path: Path) -> None:
    table = _route_table(tmp_path)
    paths = {p for _, p in table}
    # The table is the app's own: the pages the issue named must be in it.
    assert {"/console", "/analyze", "/analyze/{name}", "/search", "/api/sql", "/static"} <= paths, paths
    checked = 0
    for method, path in [*table, ("GET", "/static/app.css"), ("GET", "/no-such-page")]:
        if path == "/static":
            continue
        url = plain.query_url + re.sub(r"\{(\w+)\}", lambda m: _EXAMPLES[m.group(1)], path)
        response = httpx.request(method, url, json={} if method == "POST" else None, timeout=60)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        for name in SECURITY_HEADERS:
            assert name in response.headers, f"{method} {path} ({response.status_code}) lacks {name}"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        checked += 1
    assert checked >= 30
    # The Swagger page keeps a strict policy of its own: its one inline script by hash, nothing else inline.
    docs = httpx.get(f"{plain.query_url}/api/docs")
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]
    assert "'sha256-" in docs.headers["content-security-policy"]


def test_the_otlp_port_sends_the_security_headers_too(plain: SecureBackend) -> None:
    for response in (httpx.post(plain.traces_url, content=b"{}", headers={"Content-Type": "application/json"}),
                     httpx.get(plain.traces_url), httpx.get(plain.traces_url.replace("/v1/traces", "/"))):
        for name in SECURITY_HEADERS:
            assert name in response.headers, (response.request.url, name)


# ---- Refusing to expose an unprotected backend

def test_a_non_loopback_host_without_tokens_is_refused(secure_backends: SecureBackendFactory) -> None:
    result = secure_backends.fails("--host", "0.0.0.0")
    assert result.returncode == 2, result
    assert "refusing to listen on every interface" in result.stderr
    assert "--insecure" in result.stderr and "--ingest-token-file" in result.stderr
    only_ingest = secure_backends.fails("--host", "0.0.0.0", "--ingest-token", "x" * 20)
    assert only_ingest.returncode == 2 and "query token" in only_ingest.stderr
    assert "ingest token" not in only_ingest.stderr


def test_insecure_lets_it_bind_with_a_warning(secure_backends: SecureBackendFactory) -> None:
    backend = secure_backends("--host", "0.0.0.0", "--insecure")
    try:
        assert "warning: --insecure" in backend.log()
        assert backend.info["query_url"].startswith("http://0.0.0.0:")
    finally:
        assert backend.stop() == 0


def test_tokens_let_it_bind_without_insecure(secure_backends: SecureBackendFactory) -> None:
    backend = secure_backends("--host", "0.0.0.0", ingest=INGEST_TOKEN, query=QUERY_TOKEN)
    try:
        assert "warning: no TLS" in backend.log()
        assert httpx.get(backend.query_url.replace("0.0.0.0", "127.0.0.1") + "/api/services").status_code == 401
    finally:
        assert backend.stop() == 0


@pytest.mark.parametrize(("flags", "message"), [
    (("--query-token-file", "/nonexistent/tokens"), "--query-token-file: cannot read /nonexistent/tokens"),
    (("--ingest-token", "has space"), "--ingest-token: a token must be printable ASCII"),
    (("--tls-cert", "/nonexistent/cert.pem"), "TLS needs both --tls-cert and --tls-key"),
    (("--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"), "cannot be used"),
])
def test_unusable_access_settings_are_refused_clearly(secure_backends: SecureBackendFactory,
                                                      flags: tuple[str, ...], message: str) -> None:
    result = secure_backends.fails(*flags)
    assert result.returncode == 2, result
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_empty_token_file_is_refused(secure_backends: SecureBackendFactory) -> None:
    empty = secure_backends.token_file("empty")
    result = secure_backends.fails("--ingest-token-file", str(empty))
    assert result.returncode == 2 and "holds no token" in result.stderr, result.stderr
