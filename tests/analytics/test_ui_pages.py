"""The analyses page and the SQL console in headless Chromium: same numbers as the API, data shown as text."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tracehouse.analytics import synthetic
from tracehouse.query.service import QueryService
from tracehouse.settings import Settings
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import serve

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
EVIL = "<img src=x onerror=alert(1)>"


def _evil(rng: object, index: int) -> synthetic.Call:
    return synthetic.Call("evil", f"<b>{index % 2}</b>", attributes={"note": EVIL, "traffic.type": "user"})


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings().with_overrides(data_dir=tmp_path_factory.mktemp("ui"))
    store = DuckDBStore(settings.store_path)
    for scenario, n in ((synthetic.mixed(), 1500), (_evil, 20)):
        for batch in synthetic.generate(scenario, n, seed=n):  # type: ignore[arg-type]
            store.write_spans(batch)
    service = QueryService(store, settings)
    try:
        with serve(service) as base:
            yield base
    finally:
        service.close()


@pytest.fixture
def page(url: str) -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=url)
        pg = context.new_page()
        problems: list[str] = []
        pg.on("pageerror", lambda exc: problems.append(str(exc)))
        pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        try:
            yield pg
            assert problems == []
        finally:
            browser.close()


def _cells(page: Page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"{selector} tbody tr",
                                     "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


@pytest.mark.parametrize("query", ["latency?what_if=fizzer%3D-50%25", "compare?errors=true", "paths?slowest=5%25",
                                   "origins?service=ledger"])
def test_analysis_page_shows_the_apis_numbers(page: Page, url: str, query: str) -> None:
    name = query.split("?")[0]
    page.goto(f"/analyze/{query}")
    page.wait_for_selector("#table tbody tr")
    api = httpx.get(f"{url}/api/analyze/{query}", timeout=60).json()
    shown = _cells(page, "#table")
    assert len(shown) == len(api["rows"])
    first = api["rows"][0]
    for i, column in enumerate(api["columns"]):
        value = first[column["key"]]
        if column["kind"] == "percent":
            assert shown[0][i] == f"{value:.1f}%", (name, column)
        elif column["kind"] == "count":
            assert shown[0][i].replace(",", "") == str(value)
    assert page.text_content("#findings li") == api["findings"][0]


def test_console_runs_a_query_and_shows_data_as_text(page: Page) -> None:
    page.goto("/console")
    page.wait_for_selector("#relations details")
    assert "spans" in page.text_content("#relations")
    page.fill("#sql", "SELECT span_name, attributes['note']::VARCHAR AS note, count(*) AS n "
                      "FROM spans WHERE service_name = 'evil' GROUP BY ALL ORDER BY span_name")
    page.click("#run")
    page.wait_for_selector("#result tbody tr")
    assert _cells(page, "#result") == [["<b>0</b>", EVIL, "10"], ["<b>1</b>", EVIL, "10"]]
    assert page.query_selector("#result img") is None and page.query_selector("#result b") is None
    assert page.is_visible("#chart svg")
    page.fill("#sql", "DELETE FROM span_data")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "refused" in page.text_content("#error")


def test_console_flags_truncation(page: Page) -> None:
    page.goto("/console?sql=SELECT%20*%20FROM%20range(20000)")
    page.wait_for_selector("#result tbody tr")
    assert "truncated" in page.text_content("#status")


# The synthetic store's requests start at unix second 1,700,000,000, one every 10 ms.
WINDOW_US = {"start": str(1_699_999_990 * 10**6), "end": str(1_700_000_100 * 10**6)}


def test_search_page_links_to_the_analyses_with_its_filters(page: Page, url: str) -> None:
    query = httpx.QueryParams({"service": "hub", "operation": "GET /fizzbuzz/{n}", **WINDOW_US})
    page.goto(f"/search?{query}")
    page.wait_for_selector("#analysis-links #link-latency")
    latency = httpx.URL(page.get_attribute("#link-latency", "href") or "")
    assert latency.path == "/analyze/latency"
    assert dict(latency.params) == {"service": "hub", "operation": "GET /fizzbuzz/{n}",
                                    "start": "1699999990", "end": "1700000100"}
    origins = httpx.URL(page.get_attribute("#link-origins", "href") or "")
    assert (origins.path, origins.params["service"]) == ("/analyze/origins", "hub")
    for key in ("#link-paths", "#link-compare", "#link-errors", "#link-doctor", "#link-console"):
        assert page.is_visible(key), key
    page.click("#link-latency")
    page.wait_for_selector("#table tbody tr")
    api = httpx.get(f"{url}/api{latency.path}?{latency.query.decode()}", timeout=60).json()
    assert page.text_content("#findings li") == api["findings"][0]
    assert page.input_value("input[name=service]") == "hub"


def test_search_console_link_runs_the_same_filter(page: Page) -> None:
    page.goto(f"/search?{httpx.QueryParams({'service': 'evil', **WINDOW_US})}")
    page.wait_for_selector("#link-console")
    page.click("#link-console")
    page.wait_for_selector("#result tbody tr")
    rows = _cells(page, "#result")
    assert {r[0] for r in rows} == {"evil"} and sum(int(r[2]) for r in rows) == 20


def test_trace_view_links_to_analyses_of_requests_like_it(page: Page, url: str) -> None:
    paths = httpx.get(f"{url}/api/analyze/paths", timeout=60).json()
    fizzbuzz = next(r for r in paths["rows"] if r["route"].startswith("hub:GET /fizzbuzz/{n}"))
    page.goto(f"/trace/{fizzbuzz['example_trace_id']}")
    page.wait_for_selector("#analysis-links #link-latency")
    latency = httpx.URL(page.get_attribute("#link-latency", "href") or "")
    assert (latency.params["service"], latency.params["operation"]) == ("hub", "GET /fizzbuzz/{n}")
    assert int(latency.params["start"]) < 1_700_000_000 < int(latency.params["end"])
    callers = page.eval_on_selector_all(".origin-link", "links => links.map(a => a.textContent)")
    assert sorted(callers) == ["buzzer", "fizzer"]
    page.click(".origin-link:text-is('fizzer')")
    page.wait_for_selector("#table tbody tr")
    assert (page.text_content("#findings li", timeout=60_000) or "").startswith("100% of the")
    assert "hub:GET /fizzbuzz/{n}" in (page.text_content("#table tbody") or "")
    page.go_back()
    page.wait_for_selector("#link-console")
    page.click("#link-console")
    page.wait_for_selector("#result tbody tr")
    assert len(_cells(page, "#result")) == 5   # hub, its two client calls, fizzer, buzzer


def test_uploaded_trace_has_no_links_to_the_store(page: Page) -> None:
    page.goto("/trace")
    page.wait_for_selector("#upload-input")
    assert page.query_selector("#analysis-links") is None
