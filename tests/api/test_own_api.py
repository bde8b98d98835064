"""tracehouse's own endpoints: search summaries and sorts, the trace view with its critical path,
uploads in both formats, compare, the service map, and the UI's security headers."""

from __future__ import annotations

from typing import Any

import httpx

from .shared import ERROR_XSS, OK, SLOW, fixture_body

# Served by both stores (tests/api/conftest.py).
STORE_KINDS = ("duckdb", "clickhouse")


def search(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["traces"])


def test_search_without_a_service_and_each_sort(client: httpx.Client) -> None:
    recent = search(client)
    assert [t["traceId"] for t in recent] == [ERROR_XSS, SLOW, OK]  # fixtures start 1 s apart
    assert [t["traceId"] for t in search(client, sort="longest")] == [SLOW, ERROR_XSS, OK]
    assert search(client, sort="most_errors")[0]["traceId"] == ERROR_XSS
    first = search(client, sort="most_spans")[0]
    assert first["spanCount"] == 5


def test_summary_fields(client: httpx.Client) -> None:
    [t] = search(client, tags='{"fbaas.note":"<img src=x onerror=alert(1)>"}')
    assert t["traceId"] == ERROR_XSS
    assert t["rootService"] == "hub" and t["rootName"] == "GET /fizzbuzz/{n}"
    assert t["duration"] == 12_700_000 and t["spanCount"] == 5 and t["errorCount"] == 3
    assert t["spansPerService"] == {"hub": 3, "fizzer": 1, "buzzer": 1}


def test_trace_view_tree_and_critical_path(client: httpx.Client) -> None:
    view = client.get(f"/api/view/traces/{SLOW}").json()
    spans = view["spans"]
    assert [(s["depth"], view["services"][s["svc"]], s["name"]) for s in spans] == [
        (0, "hub", "GET /fizzbuzz/{n}"), (1, "hub", "GET"), (2, "fizzer", "GET /fizz/{n}"),
        (1, "hub", "GET"), (2, "buzzer", "GET /buzz/{n}")]
    assert [s["end"] for s in spans] == [5, 3, 3, 5, 5]
    path = view["criticalPath"]
    assert sum(seg["end"] - seg["start"] for seg in path) == view["duration"] == spans[0]["dur"]
    on_path = {spans[seg["span"]]["name"] for seg in path}
    assert "GET /fizz/{n}" in on_path  # the slow fizzer call decided the trace's end


def test_upload_otlp_json_and_jaeger_json_give_the_same_view(client: httpx.Client) -> None:
    from_otlp = client.post("/api/view/upload", content=fixture_body("fbaas_error_xss.json")).json()
    jaeger = client.get(f"/api/traces/{ERROR_XSS}").content
    from_jaeger = client.post("/api/view/upload", content=jaeger).json()
    v3 = client.get(f"/api/v3/traces/{ERROR_XSS}").content
    from_v3 = client.post("/api/view/upload", content=v3).json()

    def shape(view: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(s["id"], s["parent"], view["services"][s["svc"]], s["name"], s["kind"], s["dur"], s["status"],
                 s["attrs"].get("http.response.status_code"), len(s["events"])) for s in view["spans"]]

    assert shape(from_otlp) == shape(from_jaeger) == shape(from_v3)
    assert from_jaeger["spans"][0]["attrs"]["fbaas.note"] == "<img src=x onerror=alert(1)>"


def test_compare_finds_the_slower_calls(client: httpx.Client) -> None:
    diff = client.get("/api/compare", params={"a": OK, "b": SLOW}).json()
    assert diff["totals"] == {"added": 0, "removed": 0, "slower": 3, "faster": 0, "same": 2}
    slower = {(r["service"], r["operation"]) for r in diff["rows"] if r["change"] == "slower"}
    assert slower == {("hub", "GET /fizzbuzz/{n}"), ("hub", "GET"), ("fizzer", "GET /fizz/{n}")}
    missing = client.get("/api/compare", params={"a": OK, "b": "f" * 32})
    assert missing.status_code == 404


def test_service_map_edges(client: httpx.Client) -> None:
    body = client.get("/api/service-map", params={"lookback": "1h"}).json()
    assert body["services"] == ["buzzer", "fizzer", "hub"]
    edges = {(e["parent"], e["child"]): e for e in body["edges"]}
    buzz = edges[("hub", "buzzer")]
    assert buzz["requests"] == 3 and buzz["errors"] == 1
    assert abs(buzz["errorRate"] - 1 / 3) < 1e-9
    # p95 of the three buzzer spans (3.0, 3.2, 8.0 ms), interpolated.
    assert 7_400_000 < buzz["p95"] <= 8_000_000


def test_pages_send_a_strict_content_security_policy(client: httpx.Client) -> None:
    for path in ("/search", f"/trace/{OK}", "/compare", "/map", "/static/app.js"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert client.get("/", follow_redirects=False).headers["location"] == "/search"
