"""A trace whose spans carry 1 MB strings opens at once (it once took 48 s): the page gets each long
value cut, says how long it is, and shows the whole value when asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from playwright.sync_api import Browser, Page, expect

from tracehouse.otlp.columns import decode_payloads
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import serve

pytestmark = pytest.mark.browser

TRACE = "1b" * 16
MB = 1_000_000


@pytest.fixture(scope="module")
def long_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "big"
    scope = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(30):
        span = scope.spans.add(trace_id=bytes.fromhex(TRACE), span_id=bytes([i + 1]) * 8, name=f"query {i}",
                               start_time_unix_nano=now + i * 1000, end_time_unix_nano=now + i * 1000 + 500)
        if i:
            span.parent_span_id = bytes([1]) * 8
        span.attributes.add(key="db.statement").value.string_value = ("SELECT " + chr(97 + i % 26) * MB)[:MB]
    store = DuckDBStore(Path(tmp_path_factory.mktemp("long-ui")) / "store.duckdb", memory_limit="1GB")
    table, _, _ = decode_payloads([request.SerializeToString()])
    assert table is not None
    store.write_spans(table)
    try:
        with serve(store) as url:
            yield url
    finally:
        store.close()


def test_a_trace_of_1_mb_values_opens_and_shows_a_value_in_full(browser: Browser, long_url: str) -> None:
    context = browser.new_context(base_url=long_url, viewport={"width": 1400, "height": 900})
    page: Page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # Waited for explicitly: a "response" listener may run after the page is drawn on a loaded machine.
        with page.expect_response(lambda r: "/api/view/traces/" in r.url, timeout=30_000) as view:
            page.goto(f"/trace/{TRACE}")
        page.wait_for_selector("body[data-trace-drawn='true']", timeout=30_000)
        payload = len(view.value.body())
        assert payload < 500_000, payload   # not the 30 MB of values
        page.locator(f".row[data-span-id='{'03' * 8}']").click()
        attributes = page.locator("#span-attributes")
        expect(attributes).to_contain_text("SELECT ccc")
        more = attributes.locator("button.show-full")
        expect(more).to_have_text("… show all 1,000,000 characters")
        more.click()
        expect(attributes.locator("button.show-full")).to_have_count(0, timeout=30_000)
        assert len(attributes.locator("td").first.inner_text()) >= MB
        assert errors == [], errors
    finally:
        context.close()
