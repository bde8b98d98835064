"""Jaeger v3: services, operations, OTLP-JSON traces; and v1 and v3 agree on what they return."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx

from .shared import ERROR_XSS, OK, SLOW

# Served by both stores (tests/api/conftest.py).
STORE_KINDS = ("duckdb", "clickhouse")


def rfc3339(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def otlp_spans(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(service, resource attributes, span) for every span of an OTLP-JSON TracesData."""
    out = []
    for rs in doc["resourceSpans"]:
        resource = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                out.append((resource["service.name"]["stringValue"], resource, span))
    return out


def test_services_and_operations(client: httpx.Client) -> None:
    assert client.get("/api/v3/services").json() == {"services": ["buzzer", "fizzer", "hub"]}
    ops = client.get("/api/v3/operations", params={"service": "hub", "spanKind": "server"}).json()
    assert ops == {"operations": [{"name": "GET /fizzbuzz/{n}", "spanKind": "server"}]}


def test_trace_is_otlp_json(client: httpx.Client) -> None:
    r = client.get(f"/api/v3/traces/{ERROR_XSS}")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"result"}
    spans = otlp_spans(body["result"])
    assert len(spans) == 5
    by_id = {s["spanId"]: (svc, s) for svc, _res, s in spans}
    svc, root = by_id["5b8efff700000001"]
    assert svc == "hub"
    assert root["traceId"] == ERROR_XSS and "parentSpanId" not in root
    assert root["kind"] == 2 and root["status"] == {"code": 2, "message": "buzzer failed"}
    # int64 and timestamps are decimal strings, as OTLP/JSON requires.
    assert isinstance(root["startTimeUnixNano"], str)
    assert int(root["endTimeUnixNano"]) - int(root["startTimeUnixNano"]) == 12_700_000
    attrs = {a["key"]: a["value"] for a in root["attributes"]}
    assert attrs["http.response.status_code"] == {"intValue": "500"}
    assert attrs["http.request.method"] == {"stringValue": "GET"}
    assert root["links"][0]["traceId"] == OK
    _svc, buzz = by_id["5b8efff700000005"]
    [event] = buzz["events"]
    assert event["name"] == "exception"
    tags = {a["key"]: a["value"] for a in buzz["attributes"]}
    assert tags["fbaas.tags"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}


def test_search_with_query_parameters(client: httpx.Client) -> None:
    now = time.time_ns()
    params = {"query.serviceName": "fizzer", "query.startTimeMin": rfc3339(now - 3600 * 10**9),
              "query.startTimeMax": rfc3339(now), "query.durationMin": "30ms", "query.searchDepth": "10"}
    body = client.get("/api/v3/traces", params=params).json()
    assert {s["traceId"] for _svc, _res, s in otlp_spans(body["result"])} == {SLOW}
    attrs = client.get("/api/v3/traces", params={"query.attributes": '{"http.response.status_code":"500"}'}).json()
    assert {s["traceId"] for _svc, _res, s in otlp_spans(attrs["result"])} == {ERROR_XSS}


def test_no_match_is_404_with_error_body(client: httpx.Client) -> None:
    r = client.get("/api/v3/traces", params={"query.serviceName": "nobody"})
    assert r.status_code == 404
    assert r.json()["error"]["httpCode"] == 404
    r = client.get(f"/api/v3/traces/{'e' * 32}")
    assert r.status_code == 404 and r.json()["error"]["httpCode"] == 404


def _v1_as_tuples(trace: dict[str, Any]) -> set[tuple[Any, ...]]:
    processes = trace["processes"]
    out = set()
    for s in trace["spans"]:
        parent = next((r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"), "")
        tags = {t["key"]: t["value"] for t in s["tags"]}
        out.add((s["traceID"], s["spanID"], parent, processes[s["processID"]]["serviceName"], s["operationName"],
                 s["startTime"], s["duration"], tags.get("http.response.status_code")))
    return out


def _v3_as_tuples(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    out = set()
    for svc, _res, s in otlp_spans(doc):
        attrs = {a["key"]: a["value"] for a in s["attributes"]}
        code = attrs.get("http.response.status_code", {}).get("intValue")
        start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
        out.add((s["traceId"], s["spanId"], s.get("parentSpanId", ""), svc, s["name"], start // 1000,
                 (end - start) // 1000, int(code) if code is not None else None))
    return out


def test_v1_and_v3_return_the_same_traces(client: httpx.Client) -> None:
    for v1_params, v3_params in [
        ({"service": "hub"}, {"query.serviceName": "hub"}),
        ({"service": "fizzer", "minDuration": "30ms"}, {"query.serviceName": "fizzer", "query.durationMin": "30ms"}),
        ({"tags": '{"error":"true"}'}, {"query.attributes": '{"error":"true"}'}),
    ]:
        v1 = client.get("/api/traces", params=v1_params).json()["data"]
        v3 = client.get("/api/v3/traces", params=v3_params).json()["result"]
        v1_spans = set().union(*(_v1_as_tuples(t) for t in v1))
        assert v1_spans == _v3_as_tuples(v3)
        assert len(v1_spans) == 5 * len(v1)
    for tid in (OK, SLOW, ERROR_XSS):
        v1 = client.get(f"/api/traces/{tid}").json()["data"][0]
        v3 = client.get(f"/api/v3/traces/{tid}").json()["result"]
        assert _v1_as_tuples(v1) == _v3_as_tuples(v3)
