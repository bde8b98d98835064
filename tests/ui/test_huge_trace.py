"""A 100,000-span trace opens without freezing the page: rows are virtualised, the main thread keeps
drawing frames while the trace loads, and scrolling to the last span is immediate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import scroll_to_last_row, serve_with_wide_trace, shot

pytestmark = pytest.mark.browser

HUGE_TRACE = "ef" * 16
HUGE_SPANS = 100_000
# The page must keep drawing frames while it fetches, parses and lays out the trace (it works in slices and
# yields between them), so the browser stays responsive. Counted in frames, not milliseconds: a slice per frame
# holds on a slow or loaded machine too, where a time bound would fail without anything being wrong.
MIN_FRAMES_WHILE_LOADING = 5

# Installed before the page's own scripts: counts animation frames until the trace is drawn, and the longest gap.
FRAME_WATCH = """
window.__frames = 0;
window.__maxFrameGap = 0;
(() => {
  let last = performance.now();
  const tick = (now) => {
    window.__frames += 1;
    window.__maxFrameGap = Math.max(window.__maxFrameGap, now - last);
    last = now;
    if (document.body?.dataset.traceDrawn !== 'true') requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


@pytest.fixture(scope="module")
def huge_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_with_wide_trace(tmp_path_factory.mktemp("huge"), HUGE_SPANS, HUGE_TRACE)


@pytest.fixture
def huge_page(browser: Browser, huge_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=huge_url, viewport={"width": 1400, "height": 900})
    context.add_init_script(FRAME_WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert errors == [], f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def test_a_100k_span_trace_opens_without_freezing(huge_page: Page) -> None:
    page = huge_page
    page.goto(f"/trace/{HUGE_TRACE}")
    page.wait_for_selector("body[data-trace-drawn='true']", timeout=60_000)
    expect(page.locator("#span-total")).to_have_text(f"{HUGE_SPANS} spans")
    assert page.locator("#rows .row").count() < 120  # virtualised: only rows near the viewport exist
    frames, max_gap = page.evaluate("() => [window.__frames, window.__maxFrameGap]")
    scroll_ms = scroll_to_last_row(page, HUGE_SPANS)  # returns once the last row is drawn
    assert page.locator("#rows .row").count() < 120
    shot(page, "trace-100k")
    print(f"100k-span trace: {frames} frames while loading, longest gap {max_gap:.0f} ms, "
          f"scroll to last span {scroll_ms:.0f} ms")
    assert frames >= MIN_FRAMES_WHILE_LOADING, f"only {frames} frames drawn while the trace loaded: the page froze"
