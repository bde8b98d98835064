"""The UI's Sampling page in Chromium: what each policy kept and dropped per minute, from a real
store that a real tail sampler filled. Policy names are user values: shown as text, never markup."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from tests.api.live_server import serve
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS

from tracehouse.receiver.sampling.policy_file import parse_policy_text
from tracehouse.receiver.sampling.tail import TailSampler
from tracehouse.stores.duckdb import DuckDBStore

from .generated import batch_of, gen_trace

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    store = DuckDBStore(tmp_path / "s.duckdb")
    policy = parse_policy_text(f"""
decision: {{wait_after_root: 0s}}
policies:
  - {{name: errors, error: true}}
  - {{name: '{XSS}', probabilistic: {{percent: 10}}}}
""")
    rng = random.Random(2)
    sampler = TailSampler(store, policy)
    sampler.writer().write_spans(batch_of([gen_trace(rng, error=True, spans=3) for _ in range(12)]
                                          + [gen_trace(rng, spans=3) for _ in range(300)]))
    sampler.settle_all()
    try:
        with serve(store) as base:
            yield base
    finally:
        store.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_sampling_page_shows_kept_and_dropped_per_policy(browser: Browser, url: str) -> None:
    page = browser.new_page(base_url=url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
    page.goto("/sampling?lookback=1h")
    expect(page.locator("a[data-nav='sampling']")).to_have_class("active")
    expect(page.locator("#sampling-policies tr[data-policy='errors']")).to_contain_text("12")
    xss_row = page.locator("#sampling-policies tbody tr").filter(has_text="onerror")
    expect(xss_row).to_have_count(1)
    expect(xss_row.locator("td").first).to_have_text(XSS)
    cells = xss_row.locator("td").all_text_contents()
    kept, dropped = int(cells[1]), int(cells[2])
    assert kept + dropped == 300 and 5 < kept < 60
    assert int(cells[5]) == 10 * kept            # each kept trace stands for 10
    expect(page.locator("#sampling-minutes tbody tr")).to_have_count(2)
    assert page.locator("#app img").count() == 0
    assert errors == []
    page.close()
