"""A downstream that is down, slow or confused: the hub answers 502/504 in time, names it, and its span says so."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .helpers import Backend, Processes, Service, free_port, post_number, wait_until

QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "200"}


@pytest.fixture(scope="module")
def traced(backend: Backend) -> dict[str, str]:
    return {**backend.otlp_env, **QUICK_EXPORT}


@pytest.fixture(scope="module")
def fizzer(module_processes: Processes, traced: dict[str, str]) -> Service:
    return module_processes.service("fizzer", traced)


@pytest.fixture(scope="module")
def buzzer(module_processes: Processes, traced: dict[str, str]) -> Service:
    return module_processes.service("buzzer", traced)


def nobody_listening() -> str:
    return f"http://127.0.0.1:{free_port()}"


def hub_span_of_only_trace_since(backend: Backend, start_ns: int) -> dict[str, Any]:
    def hub_server_spans() -> list[dict[str, Any]]:
        return [s for s in backend.spans_of_traces_since(start_ns) if s["parent_span_id"] is None]

    roots: list[dict[str, Any]] = wait_until(hub_server_spans, 30.0, "the hub's span in the store")
    assert len(roots) == 1
    return roots[0]


def assert_span_records_failure(span: dict[str, Any], service: str) -> None:
    assert span["service_name"] == "hub" and span["span_kind"] == "SERVER"
    assert span["status_code"] == "ERROR"
    exceptions = [e for e in (span["events"] or []) if e["name"] == "exception"]
    assert exceptions, span["events"]
    assert any(service in str(e["attributes"].get("exception.message")) for e in exceptions)


def test_a_stopped_fizzer_gets_a_502_naming_it(processes: Processes, backend: Backend, buzzer: Service,
                                              traced: dict[str, str]) -> None:
    own_fizzer = processes.service("fizzer", traced)
    hub = processes.service("hub", {**traced, "FIZZER_URL": own_fizzer.url, "BUZZER_URL": buzzer.url})
    assert post_number(hub.url, {"number": 3}).json() == "Fizz!"
    assert own_fizzer.proc.stop() == 0

    start_ns = time.time_ns()
    response = post_number(hub.url, {"number": 3})
    assert response.status_code == 502
    body = response.json()
    assert body["services"] == ["fizzer"]
    assert "fizzer" in body["error"] and own_fizzer.url in body["error"]
    assert_span_records_failure(hub_span_of_only_trace_since(backend, start_ns), "fizzer")


def test_a_buzzer_nobody_runs_gets_a_502_naming_it(processes: Processes, backend: Backend, fizzer: Service,
                                                  traced: dict[str, str]) -> None:
    hub = processes.service("hub", {**traced, "FIZZER_URL": fizzer.url, "BUZZER_URL": nobody_listening()})
    start_ns = time.time_ns()
    response = post_number(hub.url, {"number": 5})
    assert response.status_code == 502
    assert response.json()["services"] == ["buzzer"]
    assert "buzzer is unreachable" in response.json()["error"]
    assert_span_records_failure(hub_span_of_only_trace_since(backend, start_ns), "buzzer")


def test_when_both_are_down_both_are_named(processes: Processes) -> None:
    hub = processes.service("hub", {"OTEL_SDK_DISABLED": "true", "FIZZER_URL": nobody_listening(),
                                    "BUZZER_URL": nobody_listening()})
    response = post_number(hub.url, {"number": 15})
    assert response.status_code == 502
    assert sorted(response.json()["services"]) == ["buzzer", "fizzer"]


def test_the_sequential_hub_also_names_a_stopped_downstream(processes: Processes, buzzer: Service) -> None:
    hub = processes.service("hub", {"OTEL_SDK_DISABLED": "true", "FBAAS_CALLS": "sequential",
                                    "FIZZER_URL": nobody_listening(), "BUZZER_URL": buzzer.url})
    response = post_number(hub.url, {"number": 3})
    assert (response.status_code, response.json()["services"]) == (502, ["fizzer"])


def test_a_slow_fizzer_gets_a_504_within_the_hubs_timeout(processes: Processes, backend: Backend,
                                                          buzzer: Service, traced: dict[str, str]) -> None:
    slow_fizzer = processes.service("fizzer", {**traced, "FIZZER_DELAY_MS": "3000"})
    hub = processes.service("hub", {**traced, "FIZZER_URL": slow_fizzer.url, "BUZZER_URL": buzzer.url,
                                    "FBAAS_TIMEOUT_MS": "300"})
    start_ns = time.time_ns()
    started = time.perf_counter()
    response = post_number(hub.url, {"number": 9})
    elapsed = time.perf_counter() - started
    assert response.status_code == 504
    assert response.json()["services"] == ["fizzer"]
    assert "fizzer did not answer within 300 ms" in response.json()["error"]
    assert 0.3 <= elapsed < 2.5  # well short of fizzer's 3 s: the hub gave up, it did not wait
    assert_span_records_failure(hub_span_of_only_trace_since(backend, start_ns), "fizzer")


def test_a_downstream_answering_nonsense_gets_a_502(processes: Processes, buzzer: Service) -> None:
    # buzzer answers {"buzz": ...}, which is no answer to the hub's question to fizzer.
    hub = processes.service("hub", {"OTEL_SDK_DISABLED": "true", "FIZZER_URL": buzzer.url,
                                    "BUZZER_URL": buzzer.url})
    response = post_number(hub.url, {"number": 3})
    assert response.status_code == 502
    assert "fizzer sent an unexpected answer" in response.json()["error"]
