"""Every bad parameter gets a 400 whose message names the parameter."""

from __future__ import annotations

import httpx
import pytest

# Served by both stores (tests/api/conftest.py).
STORE_KINDS = ("duckdb", "clickhouse")

V1_CASES = [
    ("/api/traces", {"minDuration": "fast"}, "minDuration"),
    ("/api/traces", {"maxDuration": "-5ms"}, "maxDuration"),
    ("/api/traces", {"minDuration": "2s", "maxDuration": "1s"}, "minDuration"),
    ("/api/traces", {"start": "yesterday"}, "start"),
    ("/api/traces", {"end": "1.5"}, "end"),
    ("/api/traces", {"start": "2000", "end": "1000"}, "start"),
    ("/api/traces", {"lookback": "forever"}, "lookback"),
    ("/api/traces", {"limit": "many"}, "limit"),
    ("/api/traces", {"limit": "-1"}, "limit"),
    ("/api/traces", {"limit": "100000"}, "limit"),
    ("/api/traces", {"tags": "error=true"}, "tags"),
    ("/api/traces", {"tags": "[1,2]"}, "tags"),
    ("/api/traces", {"tag": "no-colon"}, "tag"),
    ("/api/traces", {"traceID": "xyz"}, "traceID"),
    ("/api/traces", {"sort": "fastest"}, "sort"),
    ("/api/traces", {"durationScope": "root"}, "durationScope"),
    ("/api/traces", {"spanKind": "sideways"}, "spanKind"),
    ("/api/traces/not-hex", {}, "traceID"),
    ("/api/operations", {"spanKind": "sideways"}, "spanKind"),
    ("/api/dependencies", {"endTs": "soon"}, "endTs"),
    ("/api/dependencies", {"lookback": "-3"}, "lookback"),
    ("/api/search", {"minDuration": "1 second"}, "minDuration"),
]

V3_CASES = [
    ("/api/v3/traces", {"query.startTimeMin": "2026-13-01T00:00:00Z"}, "query.startTimeMin"),
    ("/api/v3/traces", {"query.startTimeMax": "last tuesday"}, "query.startTimeMax"),
    ("/api/v3/traces", {"query.durationMin": "10 ms"}, "query.durationMin"),
    ("/api/v3/traces", {"query.durationMax": "1d"}, "query.durationMax"),
    ("/api/v3/traces", {"query.searchDepth": "ten"}, "query.searchDepth"),
    ("/api/v3/traces", {"query.attributes": "{not json"}, "query.attributes"),
    ("/api/v3/traces", {"query.sort": "random"}, "query.sort"),
    ("/api/v3/traces/zz", {}, "trace_id"),
    ("/api/v3/operations", {"spanKind": "up"}, "spanKind"),
]

OWN_CASES = [
    ("/api/compare", {"a": "12", "b": "nope"}, "'b'"),
    ("/api/compare", {"b": "12"}, "'a'"),
    ("/api/service-map", {"lookback": "ages"}, "lookback"),
    ("/api/service-map", {"start": "5", "end": "1"}, "start"),
    ("/api/view/traces/0x12", {}, "traceID"),
]


@pytest.mark.parametrize(("path", "params", "name"), V1_CASES)
def test_v1_bad_parameter(client: httpx.Client, path: str, params: dict[str, str], name: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    message = body["errors"][0]["msg"] if "errors" in body else body["error"]
    assert f"'{name}'" in message
    if "errors" in body:
        assert body["errors"][0]["code"] == 400 and body["data"] is None


@pytest.mark.parametrize(("path", "params", "name"), V3_CASES)
def test_v3_bad_parameter(client: httpx.Client, path: str, params: dict[str, str], name: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["httpCode"] == 400 and f"'{name}'" in error["message"]


@pytest.mark.parametrize(("path", "params", "name"), OWN_CASES)
def test_own_api_bad_parameter(client: httpx.Client, path: str, params: dict[str, str], name: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    assert name in r.json()["error"]


def test_too_many_attribute_filters(client: httpx.Client) -> None:
    tags = [("tag", f"k{i}:v") for i in range(9)]
    r = client.get("/api/traces", params=tags)
    assert r.status_code == 400 and "'tags'" in r.json()["errors"][0]["msg"]


def test_upload_of_something_else(client: httpx.Client) -> None:
    for body in (b"not json", b'{"hello": 1}', b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}'):
        r = client.post("/api/view/upload", content=body)
        assert r.status_code == 400, body
        assert r.json()["error"].startswith("file:")
