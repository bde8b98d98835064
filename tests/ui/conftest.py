"""Browser tests: the fixture traces (plus a 10,000-span one) in a real store behind a real server,
driven in Debian's headless Chromium through Playwright. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

try:
    from tests.api.live_server import serve
    from tests.api.shared import make_fixture_store as fixture_store
    from tests.api.shared import wide_trace_batch, write
except ModuleNotFoundError:  # tests/ is not a package: it is on sys.path itself
    from api.live_server import serve  # type: ignore[no-redef]
    from api.shared import make_fixture_store as fixture_store  # type: ignore[no-redef]
    from api.shared import wide_trace_batch, write  # type: ignore[no-redef]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
BIG_TRACE = "cd" * 16
BIG_SPANS = 10_000


def serve_with_wide_trace(directory: Path, spans: int, trace_id: str) -> Iterator[str]:
    """The fixture traces plus one `spans`-span trace, in a real store behind a real server."""
    store = fixture_store(directory / "store.duckdb")
    write(store, wide_trace_batch(spans, time.time_ns() - 120 * 10**9, trace_id))
    try:
        with serve(store) as url:
            yield url
    finally:
        store.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_with_wide_trace(tmp_path_factory.mktemp("ui"), BIG_SPANS, BIG_TRACE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.errors = errors  # type: ignore[attr-defined]
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    try:
        yield pg
        assert errors == [], f"JavaScript errors on the page: {errors}"
        assert dialogs == [], f"the page opened dialogs (script ran?): {dialogs}"
    finally:
        context.close()


def scroll_to_last_row(page: Page, rows: int) -> float:
    """Milliseconds from scrolling the trace view to its end until the last of `rows` rows is drawn."""
    return float(page.evaluate("""async (last) => {
        const rows = document.getElementById('rows');
        const started = performance.now();
        rows.scrollTop = rows.scrollHeight;
        while (!rows.querySelector(`.row[data-pos='${last}']`)) await new Promise(requestAnimationFrame);
        return performance.now() - started;
    }""", rows - 1))


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
