"""The UI behind a query token and TLS, in Debian's Chromium: a page sends the browser to sign in, the
token becomes a cookie that scripts cannot read, and then every page, its API calls and the SQL
console's POST work; signing out ends it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from tests.backend.otlp_requests import fbaas_request

from .conftest import INGEST_TOKEN, QUERY_TOKEN, SecureBackend, SecureBackendFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def guarded(secure_backends: SecureBackendFactory) -> Iterator[SecureBackend]:
    backend = secure_backends(tls=True, ingest=INGEST_TOKEN, query=QUERY_TOKEN)
    yield backend
    assert "Traceback" not in backend.log(), backend.log()[-3000:]
    assert backend.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_sign_in_then_use_the_ui(guarded: SecureBackend, browser: Browser) -> None:
    built = fbaas_request(1)
    guarded.send(built)
    guarded.wait_stored(built.span_ids)
    base = guarded.query_url.replace("127.0.0.1", "localhost")
    # The test's certificate is self-signed: this browser trusts it as a user would after adding it.
    context = browser.new_context(base_url=base, ignore_https_errors=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/console")
        page.wait_for_url("**/login?next=%2Fconsole")
        page.fill("input[name=token]", "not-the-token")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_have_text("That token is not accepted.")
        page.fill("input[name=token]", QUERY_TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url("**/console")
        cookies = {c["name"]: c for c in context.cookies()}
        session = cookies["tracehouse_session"]
        assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # page scripts cannot read it
        # The console's POST /api/sql, authenticated by the cookie, from this origin.
        page.fill("#sql", "SELECT count(*) AS spans FROM spans")
        page.click("#run")
        expect(page.locator("#result")).to_contain_text(str(len(built.span_ids)))
        expect(page.locator("#error")).to_be_hidden()
        # The trace search page and its API calls.
        page.goto("/search?service=hub&lookback=1h")
        expect(page.locator(".result").first).to_be_visible()
        assert errors == [], errors
        # Signing out: the next page asks again.
        page.evaluate("fetch('/logout', {method: 'POST'})")
        page.goto("/search")
        page.wait_for_url("**/login?next=%2Fsearch")
    finally:
        context.close()
