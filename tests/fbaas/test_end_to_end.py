"""FBaaS traced end to end: `tracehouse send` → hub → fizzer + buzzer → OTLP → the store, checked with SQL."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest

from tracehouse.fbaas.telemetry import package_version

from .helpers import SPANS_PER_REQUEST, Backend, Processes, Service, run_cli

TALK_OUTPUT = [f"Sent {n}, Received {a}" for n, a in enumerate(
    ["1", "2", "Fizz!", "4", "Buzz!", "Fizz!", "7", "8", "Fizz!", "Buzz!", "11", "Fizz!", "13", "14", "Fizzbuzz!"],
    start=1)]


@pytest.fixture(scope="module")
def traced_fbaas(module_processes: Processes, backend: Backend) -> Service:
    """A traced FBaaS; buzzer exports over OTLP/HTTP, the others over gRPC, so both paths are used."""
    quick = {"OTEL_BSP_SCHEDULE_DELAY": "200"}
    fizzer = module_processes.service("fizzer", {**backend.otlp_env, **quick})
    buzzer = module_processes.service("buzzer", {
        **quick, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{backend.http_port}"})
    return module_processes.service("hub", {
        **backend.otlp_env, **quick, "FIZZER_URL": fizzer.url, "BUZZER_URL": buzzer.url,
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=e2e"})


def by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        traces[span["trace_id"]].append(span)
    return dict(traces)


def send_and_collect(hub: Service, backend: Backend, *extra: str) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    start_ns = time.time_ns()
    result = run_cli("send", "--url", hub.url, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    spans = backend.wait_for_spans_since(start_ns, 15 * SPANS_PER_REQUEST)
    return result.stdout, by_trace(spans)


def test_send_prints_the_talks_answers_and_every_trace_has_the_talks_shape(traced_fbaas: Service,
                                                                          backend: Backend) -> None:
    stdout, traces = send_and_collect(traced_fbaas, backend)
    assert stdout.splitlines()[:15] == TALK_OUTPUT
    assert "15 requests" in stdout and "0 errors" in stdout and "p99" in stdout

    assert len(traces) == 15
    for spans in traces.values():
        assert len(spans) == SPANS_PER_REQUEST
        ids = {s["span_id"]: s for s in spans}
        roots = [s for s in spans if s["parent_span_id"] is None]
        assert [(r["service_name"], r["span_kind"]) for r in roots] == [("hub", "SERVER")]
        root = roots[0]
        clients = [s for s in spans if s["span_kind"] == "CLIENT"]
        assert len(clients) == 2
        assert all(c["service_name"] == "hub" and c["parent_span_id"] == root["span_id"] for c in clients)
        servers = {s["service_name"]: s for s in spans if s is not root and s["span_kind"] == "SERVER"}
        assert set(servers) == {"fizzer", "buzzer"}
        # Each downstream SERVER span is the child of its own hub CLIENT span.
        parents = {name: ids[s["parent_span_id"]] for name, s in servers.items()}
        assert all(p["span_kind"] == "CLIENT" for p in parents.values())
        assert parents["fizzer"]["span_id"] != parents["buzzer"]["span_id"]
        assert all(s["status_code"] != "ERROR" for s in spans)


def test_the_fizzer_span_carries_the_user_agent_and_the_number(traced_fbaas: Service, backend: Backend) -> None:
    _, traces = send_and_collect(traced_fbaas, backend)
    fizzer_spans = [s for spans in traces.values() for s in spans if s["service_name"] == "fizzer"]
    assert len(fizzer_spans) == 15
    assert {s["attributes"]["user_agent.original"] for s in fizzer_spans} == {f"fbaas-hub/{package_version()}"}
    assert sorted(s["attributes"]["fizzbuzz.number"] for s in fizzer_spans) == list(range(1, 16))


def test_resources_name_the_services_and_their_version(traced_fbaas: Service, backend: Backend) -> None:
    _, traces = send_and_collect(traced_fbaas, backend)
    resources = {s["service_name"]: s["resource_attributes"] for spans in traces.values() for s in spans}
    assert set(resources) == {"hub", "fizzer", "buzzer"}
    assert {r["service.version"] for r in resources.values()} == {package_version()}
    assert resources["hub"]["deployment.environment"] == "e2e"


def test_a_traffic_type_reaches_every_span_of_every_service(traced_fbaas: Service, backend: Backend) -> None:
    _, traces = send_and_collect(traced_fbaas, backend, "--traffic", "loadtest")
    spans = [s for spans in traces.values() for s in spans]
    assert len(spans) == 15 * SPANS_PER_REQUEST
    assert {(s["service_name"], s["attributes"].get("traffic.type")) for s in spans} == {
        ("hub", "loadtest"), ("fizzer", "loadtest"), ("buzzer", "loadtest")}


def test_without_a_traffic_type_no_span_claims_one(traced_fbaas: Service, backend: Backend) -> None:
    _, traces = send_and_collect(traced_fbaas, backend)
    assert all("traffic.type" not in s["attributes"] for spans in traces.values() for s in spans)
