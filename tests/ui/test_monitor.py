"""The Monitor page (RED metrics per service) in headless Chromium, on the fixture traces: hub's three
server spans in the last minute, one of them failed; its client calls when asked for."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import shot

try:
    from tests.api.shared import XSS
except ModuleNotFoundError:  # tests/ is not a package: it is on sys.path itself
    from api.shared import XSS  # type: ignore[no-redef]

pytestmark = pytest.mark.browser


def test_red_view_of_a_service(page: Page) -> None:
    page.goto("/monitor?service=hub&lookback=1h")
    expect(page.locator("#red-rate .red-line")).to_have_count(1)
    expect(page.locator("#red-errors .red-value")).to_have_text("avg 33.3%")
    expect(page.locator("#red-latency .red-value")).to_contain_text("ms")
    op = page.locator("#red-operations tr[data-operation='GET /fizzbuzz/{n}']")
    expect(op).to_contain_text("33.3%")
    expect(op.locator("a")).to_have_attribute(
        "href", "/search?service=hub&operation=GET+%2Ffizzbuzz%2F%7Bn%7D&lookback=1h")
    expect(page.locator("nav a[data-nav='monitor']")).to_have_class("active")
    shot(page, "monitor")


def test_choices_are_in_the_url(page: Page) -> None:
    page.goto("/monitor?service=hub&lookback=1h")
    page.select_option("#m-kind", "client")
    page.wait_for_url("**/monitor?service=hub&lookback=1h&spanKind=client")
    expect(page.locator("#red-operations tr[data-operation='GET']")).to_have_count(1)
    page.select_option("#m-service", "buzzer")
    page.wait_for_url("**service=buzzer**")
    expect(page.locator("#monitor")).to_contain_text("No client spans of buzzer")


def test_unknown_values_fall_back_and_stay_text(page: Page) -> None:
    page.goto(f"/monitor?service={XSS}&spanKind={XSS}&lookback=forever")
    expect(page.locator("#m-service")).to_have_value("buzzer")      # the first service
    expect(page.locator("#m-kind")).to_have_value("server")
    expect(page.locator("#red-rate .red-line")).to_have_count(1)
    assert page.locator("#app img").count() == 0
