"""The API marks inferred links and the UI draws them as inferred: a real store behind a real
server, POST /api/reconstruct, the trace view, search's include/exclude/only, and Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.reconstruct_data import Generated, generate
from playwright.sync_api import expect, sync_playwright

from tracehouse.stores.duckdb import DuckDBStore

from .conftest import window

try:
    from tests.api.live_server import serve
    from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, shot
except ModuleNotFoundError:  # tests/ is not a package: it is on sys.path itself
    from api.live_server import serve  # type: ignore[no-redef]
    from ui.conftest import CHROMIUM, CHROMIUM_ARGS, shot  # type: ignore[no-redef]


@pytest.fixture(scope="module")
def generated() -> Generated:
    return generate("chain", 120, 0.5, seed=51, propagated=0.25)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, generated: Generated) -> Iterator[tuple[str, Generated]]:
    store = DuckDBStore(tmp_path_factory.mktemp("reconstruct-api") / "store.duckdb")
    store.write_spans(generated.table())
    try:
        with serve(store) as url:
            start, end = window(generated)
            response = httpx.post(f"{url}/api/reconstruct", params={"start": start // 1000, "end": end // 1000 + 1},
                                  timeout=120)
            assert response.status_code == 200, response.text
            assert response.json()["linked"] > 0
            yield url, generated
    finally:
        store.close()


def _a_rebuilt_request(generated: Generated) -> tuple[str, list[tuple[str, str]]]:
    """The root trace of a request whose links were cut, and its fragments' (trace, span)."""
    by_request: dict[str, list[tuple[str, str]]] = {}
    for child, parent in generated.truth.items():
        if parent is not None:
            by_request.setdefault(generated.request_of[child], []).append(child)
    request, children = next((r, c) for r, c in by_request.items() if len(c) == 3)
    root = next(k for k, p in generated.truth.items() if p is None and generated.request_of[k] == request)
    return root[0], children


def test_reconstruct_rejects_a_bad_window(server: tuple[str, Generated]) -> None:
    url, _ = server
    response = httpx.post(f"{url}/api/reconstruct", params={"start": 20, "end": 10})
    assert response.status_code == 400 and "start" in response.json()["error"]


def test_the_trace_view_joins_fragments_and_marks_inferred_links(server: tuple[str, Generated]) -> None:
    url, generated = server
    root, children = _a_rebuilt_request(generated)
    view = httpx.get(f"{url}/api/view/traces/{root}").json()
    assert view["traceId"] == root
    # chain: frontend -> orders -> inventory, frontend -> pricing: three cut links, four traces
    assert view["reconstructed"]["links"] == 3 and len(view["reconstructed"]["traces"]) == 4
    marked = {s["id"]: s for s in view["spans"] if "inferred" in s}
    assert set(marked) == {span for _, span in children}
    for trace_id, span_id in children:
        mark = marked[span_id]["inferred"]
        assert mark["trace"] == trace_id and 0 < mark["confidence"] <= 1 and mark["method"]
        # drawn under the caller the truth names
        assert marked[span_id]["parent"] == generated.truth[(trace_id, span_id)][1]  # type: ignore[index]
    assert all(not s["orphan"] for s in view["spans"])
    # Opening a fragment shows the same reconstructed trace.
    fragment_view = httpx.get(f"{url}/api/view/traces/{children[0][0]}").json()
    assert fragment_view["traceId"] == root and len(fragment_view["spans"]) == len(view["spans"])
    # As received: the root's own spans, nothing inferred.
    received = httpx.get(f"{url}/api/view/traces/{root}", params={"reconstructed": "0"}).json()
    assert received["reconstructed"] is None and not any("inferred" in s for s in received["spans"])
    assert len(received["spans"]) < len(view["spans"])


def test_the_jaeger_api_still_serves_what_was_received(server: tuple[str, Generated]) -> None:
    url, generated = server
    _, children = _a_rebuilt_request(generated)
    trace_id, span_id = children[0]
    spans = httpx.get(f"{url}/api/traces/{trace_id}").json()["data"][0]["spans"]
    child = next(s for s in spans if s["spanID"] == span_id)
    assert child["references"] == []


def test_search_includes_excludes_or_keeps_only_reconstructed_traces(server: tuple[str, Generated]) -> None:
    url, generated = server
    start, end = window(generated)
    base = {"start": start // 1000, "end": end // 1000 + 1, "limit": 1000}
    every = httpx.get(f"{url}/api/search", params=base).json()
    flags = {t["traceId"]: t["reconstructed"] for t in every["traces"]}
    assert every["reconstructed"] == "include"
    assert {"root", "fragment", None} <= set(flags.values())
    only = httpx.get(f"{url}/api/search", params={**base, "reconstructed": "only"}).json()["traces"]
    excluded = httpx.get(f"{url}/api/search", params={**base, "reconstructed": "exclude"}).json()["traces"]
    assert {t["traceId"] for t in only} == {t for t, f in flags.items() if f}
    assert {t["traceId"] for t in excluded} == {t for t, f in flags.items() if not f}
    bad = httpx.get(f"{url}/api/search", params={**base, "reconstructed": "maybe"})
    assert bad.status_code == 400


@pytest.mark.browser
def test_the_ui_draws_inferred_links_as_inferred(server: tuple[str, Generated], tmp_path: Path) -> None:
    url, generated = server
    root, children = _a_rebuilt_request(generated)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(base_url=url, viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"/trace/{root}")
            page.wait_for_selector("body[data-trace-drawn='true']")
            expect(page.locator("#reconstructed-chip")).to_contain_text("reconstructed: 3 inferred links")
            inferred = page.locator(".row.inferred")
            expect(inferred).to_have_count(3)
            for _, span_id in children:
                expect(page.locator(f".row.inferred[data-span-id='{span_id}'] .inferred-link")).to_have_text(
                    re.compile(r"^⇢ \d{1,3}%$"))
            # received links are not marked
            expect(page.locator(".row:not(.inferred) .inferred-link")).to_have_count(0)
            page.locator(f".row[data-span-id='{children[0][1]}']").click()
            expect(page.locator("#span-inferred")).to_contain_text("inferred from timing")
            expect(page.locator("#span-inferred")).to_contain_text(children[0][0])
            shot(page, "trace-reconstructed")
            assert errors == []
        finally:
            browser.close()
