"""FBAAS_CALLS: the trace shows whether the hub asked fizzer and buzzer together or one after the other."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .helpers import SPANS_PER_REQUEST, Backend, Processes, Service, post_number

QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "200"}
FIZZER_DELAY_MS = 200


@pytest.fixture(scope="module")
def downstreams(module_processes: Processes, backend: Backend) -> tuple[Service, Service]:
    traced = {**backend.otlp_env, **QUICK_EXPORT}
    fizzer = module_processes.service("fizzer", {**traced, "FIZZER_DELAY_MS": str(FIZZER_DELAY_MS)})
    return fizzer, module_processes.service("buzzer", traced)


def spans_of_one_request(processes: Processes, backend: Backend, downstreams: tuple[Service, Service],
                         calls: str) -> tuple[dict[str, dict[str, Any]], float]:
    """The spans of one request through a hub in `calls` mode, by role, and the response time."""
    fizzer, buzzer = downstreams
    hub = processes.service("hub", {**backend.otlp_env, **QUICK_EXPORT, "FBAAS_CALLS": calls,
                                    "FIZZER_URL": fizzer.url, "BUZZER_URL": buzzer.url})
    start_ns = time.time_ns()
    started = time.perf_counter()
    assert post_number(hub.url, {"number": 15}).json() == "Fizzbuzz!"
    elapsed = time.perf_counter() - started
    spans = backend.wait_for_spans_since(start_ns, SPANS_PER_REQUEST)
    by_id = {s["span_id"]: s for s in spans}
    roles = {s["service_name"]: s for s in spans if s["service_name"] != "hub"}
    for name in ("fizzer", "buzzer"):
        roles[f"call {name}"] = by_id[roles[name]["parent_span_id"]]
    return roles, elapsed


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start_ns"] < b["end_ns"] and b["start_ns"] < a["end_ns"]


def test_in_parallel_the_hub_calls_buzzer_while_the_slow_fizzer_call_is_running(
        processes: Processes, backend: Backend, downstreams: tuple[Service, Service]) -> None:
    spans, _ = spans_of_one_request(processes, backend, downstreams, "parallel")
    # The calls, not the downstream spans: a server may begin its span a little late.
    assert overlap(spans["call fizzer"], spans["call buzzer"])
    assert spans["call buzzer"]["end_ns"] < spans["call fizzer"]["end_ns"]


def test_in_sequence_the_hub_calls_buzzer_after_fizzer_has_answered(
        processes: Processes, backend: Backend, downstreams: tuple[Service, Service]) -> None:
    spans, elapsed = spans_of_one_request(processes, backend, downstreams, "sequential")
    assert spans["call buzzer"]["start_ns"] >= spans["call fizzer"]["end_ns"]
    assert spans["buzzer"]["start_ns"] >= spans["fizzer"]["end_ns"]
    assert not overlap(spans["fizzer"], spans["buzzer"])
    assert elapsed >= FIZZER_DELAY_MS / 1000
