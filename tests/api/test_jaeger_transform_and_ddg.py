"""POST /api/transform (OTLP-JSON in, Jaeger JSON out) and the Deep Dependency Graph's
/analytics/v1/dependencies, against the fixture traces."""

from __future__ import annotations

import time

import httpx
import orjson

from . import jaeger_definitions as jd
from .shared import ERROR_XSS, OK, SLOW, fixture_body

STORE_KINDS = ("duckdb", "clickhouse")


def test_transform_of_v3_output_is_what_v1_returns(client: httpx.Client) -> None:
    # /api/v3 gives OTLP-JSON; transformed, it must be exactly the Jaeger JSON /api/traces gives.
    for trace_id in (OK, SLOW, ERROR_XSS):
        otlp = client.get(f"/api/v3/traces/{trace_id}").json()["result"]
        r = client.post("/api/transform", content=orjson.dumps(otlp))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == jd.V1_ENVELOPE_KEYS and body["errors"] is None
        assert body["data"] == client.get(f"/api/traces/{trace_id}").json()["data"]


def test_transform_of_an_exporter_file_with_several_traces(client: httpx.Client) -> None:
    doc = orjson.loads(fixture_body("fbaas_ok.json"))
    doc["resourceSpans"] += orjson.loads(fixture_body("fbaas_slow.json"))["resourceSpans"]
    body = client.post("/api/transform", content=orjson.dumps(doc)).json()
    assert [t["traceID"] for t in body["data"]] == [OK, SLOW]
    ok = body["data"][0]
    assert {p["serviceName"] for p in ok["processes"].values()} == {"hub", "fizzer", "buzzer"}
    root = next(s for s in ok["spans"] if not s["references"])
    assert root["startTime"] == 1_700_000_000_000_000 and root["duration"] == 7500
    tags = {t["key"]: t for t in root["tags"]}
    assert tags["span.kind"]["value"] == "server"
    assert tags["otel.scope.name"]["value"] == "opentelemetry.instrumentation.fastapi"


def test_transform_errors(client: httpx.Client) -> None:
    for bad in (b"not json", b'{"data": [{"traceID": "ab", "spans": []}]}', b"[1, 2]"):
        r = client.post("/api/transform", content=bad)
        assert r.status_code == 400, bad
        body = r.json()
        assert set(body) == jd.V1_ENVELOPE_KEYS and body["errors"][0]["code"] == 400
    empty = client.post("/api/transform", content=b'{"resourceSpans": []}')
    assert empty.status_code == 200 and empty.json()["data"] == []


def ddg(client: httpx.Client, **params: str) -> dict[str, object]:
    r = client.get("/analytics/v1/dependencies", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    assert jd.conforms(body, jd.DDG_PAYLOAD) == []
    return body


def test_deep_dependency_paths_through_a_service(client: httpx.Client) -> None:
    body = ddg(client, service="fizzer")
    [path] = body["dependencies"]  # type: ignore[misc]
    assert path["path"] == [{"service": "hub", "operation": "GET /fizzbuzz/{n}"},
                            {"service": "fizzer", "operation": "GET /fizz/{n}"}]
    [attribute] = path["attributes"]
    assert attribute["key"] == "exemplar_trace_id" and attribute["value"] in (OK, SLOW, ERROR_XSS)
    hub = ddg(client, service="hub")
    assert [[e["service"] for e in p["path"]] for p in hub["dependencies"]] == [  # type: ignore[attr-defined]
        ["hub", "buzzer"], ["hub", "fizzer"]]


def test_deep_dependency_focal_operation_and_window(client: httpx.Client) -> None:
    # A client span is not an entry, but as the focal operation it is kept in the path.
    client_paths = ddg(client, service="hub", operation="GET")["dependencies"]
    assert [[e["operation"] for e in p["path"]] for p in client_paths] == [  # type: ignore[attr-defined]
        ["GET /fizzbuzz/{n}", "GET", "GET /buzz/{n}"], ["GET /fizzbuzz/{n}", "GET", "GET /fizz/{n}"]]
    now_ms = time.time_ns() // 10**6
    assert ddg(client, service="hub", start=str(now_ms - 7_200_000), end=str(now_ms - 3_600_000)) == {
        "dependencies": []}
    assert ddg(client, service="nobody") == {"dependencies": []}
    for params in ({}, {"service": "hub", "start": "x"}, {"service": "hub", "start": "20", "end": "10"}):
        r = client.get("/analytics/v1/dependencies", params=params)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == 400
