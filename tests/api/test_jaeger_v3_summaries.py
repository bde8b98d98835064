"""Jaeger v3 trace summaries, dependencies and errors: the requests the current Jaeger UI sends (quoted
in issue 13), answered in the shapes of jaeger-idl's api_v3 proto, field by field."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from . import jaeger_definitions as jd
from .shared import ERROR_XSS, OK, SLOW
from .test_jaeger_v3 import rfc3339

STORE_KINDS = ("duckdb", "clickhouse")


def window(**extra: str) -> dict[str, str]:
    now = time.time_ns()
    return {"query.startTimeMin": rfc3339(now - 3600 * 10**9), "query.startTimeMax": rfc3339(now + 60 * 10**9),
            **extra}


def summaries(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    r = client.get("/api/v3/trace-summaries", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert jd.conforms(body, jd.FIND_TRACE_SUMMARIES_RESPONSE) == []
    result: list[dict[str, Any]] = body["summaries"]
    return result


def test_summary_of_each_trace_field_by_field(client: httpx.Client) -> None:
    found = {s["traceId"]: s for s in summaries(client, **window())}
    assert set(found) == {OK, SLOW, ERROR_XSS}
    err = found[ERROR_XSS]
    start = int(err["minStartTimeUnixNano"])
    assert err == {
        "traceId": ERROR_XSS, "traceID": ERROR_XSS, "rootServiceName": "hub", "rootOperationName": "GET /fizzbuzz/{n}",
        "minStartTimeUnixNano": str(start), "maxEndTimeUnixNano": str(start + 12_700_000),
        "spanCount": 5, "errorSpanCount": 3, "orphanSpanCount": 0,
        "services": [{"name": "buzzer", "spanCount": 1, "errorSpanCount": 1},
                     {"name": "fizzer", "spanCount": 1, "errorSpanCount": 0},
                     {"name": "hub", "spanCount": 3, "errorSpanCount": 2}],
    }
    slow = found[SLOW]
    assert int(slow["maxEndTimeUnixNano"]) - int(slow["minStartTimeUnixNano"]) == 45_700_000
    assert slow["errorSpanCount"] == 0 and [s["errorSpanCount"] for s in slow["services"]] == [0, 0, 0]


def test_the_jaeger_ui_request_as_quoted(client: httpx.Client) -> None:
    """GET /api/v3/trace-summaries?query.serviceName=…&query.startTimeMin=…&query.startTimeMax=…
    &query.searchDepth=N, plus operationName, attributes and durationMin/Max when set."""
    assert {s["traceId"] for s in summaries(client, **window(**{"query.serviceName": "buzzer",
                                                                "query.searchDepth": "20"}))} == {OK, SLOW, ERROR_XSS}
    assert [s["traceId"] for s in summaries(client, **window(**{"query.serviceName": "hub",
                                                                "query.searchDepth": "1"}))] == [ERROR_XSS]
    by_op = summaries(client, **window(**{"query.serviceName": "fizzer", "query.operationName": "GET /fizz/{n}",
                                          "query.durationMin": "30ms"}))
    assert [s["traceId"] for s in by_op] == [SLOW]
    attrs = summaries(client, **window(**{"query.attributes": '{"http.response.status_code":"500"}'}))
    assert [s["traceId"] for s in attrs] == [ERROR_XSS]
    short = summaries(client, **window(**{"query.serviceName": "buzzer", "query.durationMax": "3100us"}))
    assert [s["traceId"] for s in short] == [OK]


def test_the_jaeger_ui_clients_snake_case_names(client: httpx.Client) -> None:
    # jaeger-ui src/api/v3/client.ts sends these deprecated names (and query.span_name).
    now = time.time_ns()
    found = summaries(client, **{
        "query.service_name": "fizzer", "query.span_name": "GET /fizz/{n}",
        "query.start_time_min": rfc3339(now - 3600 * 10**9), "query.start_time_max": rfc3339(now + 10**9),
        "query.num_traces": "20", "query.duration_min": "30ms", "query.raw_traces": "false"})
    assert [s["traceId"] for s in found] == [SLOW]


def test_duration_filters_match_spans_as_in_jaeger(client: httpx.Client) -> None:
    # "service buzzer, min duration 100ms" lists nothing in Jaeger: no buzzer span lasts 100 ms.
    assert summaries(client, **window(**{"query.serviceName": "buzzer", "query.durationMin": "100ms"})) == []
    # The slow trace lasts 45.7 ms but none of its fizzer spans 42 ms; whole traces on request.
    assert summaries(client, **window(**{"query.serviceName": "fizzer", "query.durationMin": "42ms"})) == []
    whole = summaries(client, **window(**{"query.serviceName": "fizzer", "query.durationMin": "42ms",
                                          "query.durationScope": "trace"}))
    assert [s["traceId"] for s in whole] == [SLOW]


def test_empty_answer_is_an_empty_list(client: httpx.Client) -> None:
    assert summaries(client, **window(**{"query.serviceName": "nobody"})) == []
    now = time.time_ns()
    assert summaries(client, **{"query.startTimeMin": rfc3339(now - 7200 * 10**9),
                                "query.startTimeMax": rfc3339(now - 3600 * 10**9)}) == []


def test_post_binding_takes_the_same_query(client: httpx.Client) -> None:
    now = time.time_ns()
    body = {"query": {"serviceName": "fizzer", "startTimeMin": rfc3339(now - 3600 * 10**9),
                      "startTimeMax": rfc3339(now + 10**9), "attributes": {"fbaas.n": "15"}}}
    r = client.post("/api/v3/trace-summaries", json=body)
    assert r.status_code == 200, r.text
    assert jd.conforms(r.json(), jd.FIND_TRACE_SUMMARIES_RESPONSE) == []
    traces = client.post("/api/v3/traces", json={"query": {"serviceName": "fizzer", "durationMin": "30ms"}})
    assert traces.status_code == 200
    assert {s["traceId"] for rs in traces.json()["result"]["resourceSpans"]
            for ss in rs["scopeSpans"] for s in ss["spans"]} == {SLOW}


@pytest.mark.parametrize(("path", "params", "status", "names"), [
    ("/api/v3/trace-summaries", {"query.serviceName": "hub"}, 400, "query.startTimeMin"),
    ("/api/v3/trace-summaries", window(**{"query.durationMin": "ten"}), 400, "query.durationMin"),
    ("/api/v3/trace-summaries", window(**{"query.attributes": "[1]"}), 400, "query.attributes"),
    ("/api/v3/trace-summaries", window(**{"query.searchDepth": "many"}), 400, "query.searchDepth"),
    ("/api/v3/trace-summaries", window(**{"query.rawTraces": "maybe"}), 400, "query.rawTraces"),
    ("/api/v3/trace-summaries", {"query.startTimeMin": "yesterday", "query.startTimeMax": "now"}, 400,
     "query.startTimeMin"),
    ("/api/v3/dependencies", {}, 400, "startTime"),
    ("/api/v3/dependencies", {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, 400,
     "endTime"),
    ("/api/v3/traces/zz", {}, 400, "trace_id"),
    ("/api/v3/traces/" + "e" * 32, {}, 404, "not found"),
    ("/api/v3/traces", {"query.serviceName": "nobody"}, 404, "No traces found"),
    ("/api/v3/no-such-thing", {}, 404, "no such endpoint"),
    ("/api/v3/", {}, 404, "no such endpoint"),
])
def test_errors_in_the_v3_shape(client: httpx.Client, path: str, params: dict[str, str], status: int,
                                names: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert jd.conforms(body, jd.GRPC_GATEWAY_ERROR) == [], body
    assert body["error"]["httpCode"] == status
    assert names in body["error"]["message"]


def test_wrong_method_is_a_v3_405(client: httpx.Client) -> None:
    r = client.delete("/api/v3/services")
    assert r.status_code == 405
    assert jd.conforms(r.json(), jd.GRPC_GATEWAY_ERROR) == []
    bad = client.post("/api/v3/trace-summaries", content=b"not json")
    assert bad.status_code == 400 and jd.conforms(bad.json(), jd.GRPC_GATEWAY_ERROR) == []


def test_dependencies(client: httpx.Client) -> None:
    now = time.time_ns()
    r = client.get("/api/v3/dependencies", params={"startTime": rfc3339(now - 3600 * 10**9),
                                                   "endTime": rfc3339(now + 10**9)})
    assert r.status_code == 200
    body = r.json()
    assert jd.conforms(body, jd.DEPENDENCIES_RESPONSE) == []
    assert body == {"dependencies": [{"parent": "hub", "child": "buzzer", "callCount": "3"},
                                     {"parent": "hub", "child": "fizzer", "callCount": "3"}]}
    old = client.get("/api/v3/dependencies", params={"start_time": rfc3339(now - 7200 * 10**9),
                                                     "end_time": rfc3339(now - 3600 * 10**9)})
    assert old.json() == {"dependencies": []}


def test_services_and_operations_conform(client: httpx.Client) -> None:
    assert jd.conforms(client.get("/api/v3/services").json(), jd.GET_SERVICES_RESPONSE) == []
    ops = client.get("/api/v3/operations", params={"service": "hub", "span_kind": "client"}).json()
    assert jd.conforms(ops, jd.GET_OPERATIONS_RESPONSE) == []
    assert ops == {"operations": [{"name": "GET", "spanKind": "client"}]}


def test_traces_conform_to_the_jaeger_uis_otlp_schema(client: httpx.Client) -> None:
    """Every trace /api/v3 returns passes the Jaeger UI's refined OTLP schema (schemas.ts): hex ids,
    no empty parentSpanId, decimal-string times and int64s, numeric enums, one field per AnyValue."""
    for trace_id in (OK, SLOW, ERROR_XSS):
        body = client.get(f"/api/v3/traces/{trace_id}").json()
        assert jd.conforms(body, jd.GET_TRACE_RESPONSE) == [], jd.first_bad_span(body["result"])
    found = client.get("/api/v3/traces", params=window()).json()
    assert jd.conforms(found, jd.GET_TRACE_RESPONSE) == [], jd.first_bad_span(found["result"])
    # And the definitions do refuse what the UI refuses (else this test would prove nothing).
    root = found["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert jd.SPAN(root)
    assert not jd.SPAN({**root, "parentSpanId": ""})
    assert not jd.SPAN({**root, "startTimeUnixNano": int(root["startTimeUnixNano"])})
    assert not jd.SPAN({**root, "attributes": [{"key": "k", "value": {"stringValue": "a", "boolValue": True}}]})
