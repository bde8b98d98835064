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


def downstream_spans(processes: Processes, backend: Backend, downstreams: tuple[Service, Service],
                     calls: str) -> tuple[dict[str, Any], dict[str, Any], float]:
    """(fizzer span, buzzer span, response seconds) of one request through a hub in `calls` mode."""
    fizzer, buzzer = downstreams
    hub = processes.service("hub", {**backend.otlp_env, **QUICK_EXPORT, "FBAAS_CALLS": calls,
                                    "FIZZER_URL": fizzer.url, "BUZZER_URL": buzzer.url})
    start_ns = time.time_ns()
    started = time.perf_counter()
    assert post_number(hub.url, {"number": 15}).json() == "Fizzbuzz!"
    elapsed = time.perf_counter() - started
    spans = {s["service_name"]: s for s in backend.wait_for_spans_since(start_ns, SPANS_PER_REQUEST)}
    return spans["fizzer"], spans["buzzer"], elapsed


def test_in_parallel_the_buzzer_span_runs_inside_the_slow_fizzer_span(
        processes: Processes, backend: Backend, downstreams: tuple[Service, Service]) -> None:
    fizz, buzz, _ = downstream_spans(processes, backend, downstreams, "parallel")
    assert fizz["start_ns"] < buzz["end_ns"] and buzz["start_ns"] < fizz["end_ns"]
    assert buzz["end_ns"] < fizz["end_ns"]


def test_in_sequence_the_buzzer_span_starts_after_the_fizzer_span_ends(
        processes: Processes, backend: Backend, downstreams: tuple[Service, Service]) -> None:
    fizz, buzz, elapsed = downstream_spans(processes, backend, downstreams, "sequential")
    assert buzz["start_ns"] >= fizz["end_ns"]
    assert elapsed >= FIZZER_DELAY_MS / 1000
