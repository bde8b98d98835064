"""Jaeger's SPM API (the Monitor tab) computed from the stored fixture spans: request parameters as
Jaeger's query service parses them, MetricFamily answers checked field by field, values checked
against the fixture's spans (hub's server spans: 7.5 ms, 45.7 ms and 12.7 ms, one an error)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest

from . import jaeger_definitions as jd

STORE_KINDS = ("duckdb", "clickhouse")


def metric(client: httpx.Client, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    r = client.get(f"/api/metrics/{kind}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert jd.conforms(body, jd.METRIC_FAMILY) == [], body
    return body


def base(end_ms: int, **extra: str) -> list[tuple[str, str]]:
    # The Monitor tab's own defaults: the last hour would do; one minute in two points keeps it exact.
    return [("endTs", str(end_ms)), ("lookback", "60000"), ("step", "60000"), ("ratePer", "600000"),
            *extra.items()]


def series(family: dict[str, Any]) -> dict[tuple[str, ...], list[tuple[str, float]]]:
    return {tuple(label["value"] for label in m["labels"]):
            [(p["timestamp"], p["gaugeValue"]["doubleValue"]) for p in m["metricPoints"]]
            for m in family["metrics"]}


def stamp(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module")
def end_ms() -> int:
    return time.time_ns() // 10**6 // 1000 * 1000 + 123   # a millisecond fraction, to check timestamps


def test_calls_per_second_over_rate_per(client: httpx.Client, end_ms: int) -> None:
    family = metric(client, "calls", [("service", "hub"), *base(end_ms)])
    assert family["name"] == "service_call_rate" and family["type"] == "GAUGE"
    # Three hub server spans in the last 10 minutes at the second point; none in the first one's.
    assert series(family) == {("hub",): [(stamp(end_ms - 60_000), 0.0), (stamp(end_ms), 3 / 600)]}


def test_errors_as_a_fraction_of_calls(client: httpx.Client, end_ms: int) -> None:
    family = metric(client, "errors", [("service", "hub"), ("service", "buzzer"), *base(end_ms)])
    assert family["name"] == "service_error_rate"
    assert series(family) == {("buzzer",): [(stamp(end_ms), 1 / 3)], ("hub",): [(stamp(end_ms), 1 / 3)]}


def test_latency_quantiles_in_milliseconds(client: httpx.Client, end_ms: int) -> None:
    median = metric(client, "latencies", [("service", "hub"), ("quantile", "0.5"), *base(end_ms)])
    assert median["name"] == "service_latencies" and "0.50th quantile" in median["help"]
    [(ts, value)] = series(median)[("hub",)]
    assert ts == stamp(end_ms) and value == pytest.approx(12.7)
    p95 = metric(client, "latencies", [("service", "hub"), ("quantile", "0.95"), *base(end_ms)])
    assert series(p95)[("hub",)][0][1] == pytest.approx(12.7 + 0.9 * (45.7 - 12.7))


def test_by_operation_and_span_kind(client: httpx.Client, end_ms: int) -> None:
    family = metric(client, "calls", [("service", "hub"), ("groupByOperation", "true"), ("spanKind", "client"),
                                      *base(end_ms)])
    assert family["name"] == "service_operation_call_rate"
    assert [m["labels"] for m in family["metrics"]] == [[{"name": "service_name", "value": "hub"},
                                                         {"name": "operation", "value": "GET"}]]
    assert series(family)[("hub", "GET")][-1][1] == 6 / 600
    both = metric(client, "calls", [("service", "hub"), ("spanKind", "server"), ("spanKind", "client"),
                                    *base(end_ms)])
    assert series(both)[("hub",)][-1][1] == 9 / 600


def test_the_jaeger_ui_service_list_spelling(client: httpx.Client, end_ms: int) -> None:
    # jaeger-ui's fetchMetrics joins services as "service=a,service=b" in one query-string value.
    r = client.get(f"/api/metrics/calls?service=hub,service=fizzer&endTs={end_ms}&lookback=60000&step=60000"
                   "&ratePer=600000&spanKind=server")
    assert r.status_code == 200
    assert set(series(r.json())) == {("hub",), ("fizzer",)}


def test_defaults_and_no_data(client: httpx.Client) -> None:
    family = metric(client, "latencies", [("service", "hub"), ("quantile", "0.95")])
    # endTs now, lookback 1 h, step 5 s: the fixture's spans are in the last points' windows.
    [points] = series(family).values()
    assert 0 < len(points) <= 721
    assert metric(client, "calls", [("service", "nobody")])["metrics"] == []
    long_ago = metric(client, "calls", [("service", "hub"), *base(end_ms=10**12)])
    assert long_ago["metrics"] == []


def test_minstep(client: httpx.Client) -> None:
    body = client.get("/api/metrics/minstep").json()
    assert set(body) == jd.V1_ENVELOPE_KEYS
    assert body["data"] == 1000 and body["errors"] is None


@pytest.mark.parametrize(("kind", "params", "name"), [
    ("calls", [], "service"),
    ("latencies", [("service", "hub")], "quantile"),
    ("latencies", [("service", "hub"), ("quantile", "2")], "quantile"),
    ("calls", [("service", "hub"), ("endTs", "soon")], "endTs"),
    ("calls", [("service", "hub"), ("step", "0")], "step"),
    ("calls", [("service", "hub"), ("lookback", "86400000"), ("step", "1")], "step"),
    ("errors", [("service", "hub"), ("spanKind", "sideways")], "spanKind"),
    ("errors", [("service", "hub"), ("groupByOperation", "perhaps")], "groupByOperation"),
])
def test_bad_parameters_in_jaegers_v1_error_shape(client: httpx.Client, kind: str, params: list[tuple[str, str]],
                                                   name: str) -> None:
    r = client.get(f"/api/metrics/{kind}", params=params)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == jd.V1_ENVELOPE_KEYS and body["data"] is None
    assert body["errors"][0]["code"] == 400 and name in body["errors"][0]["msg"]
