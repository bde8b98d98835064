"""Stopping a service flushes its pending spans: only the shutdown flush can deliver them here."""

from __future__ import annotations

import signal
import time

import pytest

from .helpers import SPANS_PER_REQUEST, Backend, Processes, post_number

# Ten minutes: no scheduled export happens during the test.
NEVER = {"OTEL_BSP_SCHEDULE_DELAY": "600000"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_last_requests_spans_reach_the_store_when_the_services_stop(processes: Processes, backend: Backend,
                                                                       sig: signal.Signals) -> None:
    hub, fizzer, buzzer = processes.fbaas({**backend.otlp_env, **NEVER})
    start_ns = time.time_ns()
    assert post_number(hub.url, {"number": 15}).json() == "Fizzbuzz!"
    assert backend.spans_of_traces_since(start_ns) == []

    for service in (hub, fizzer, buzzer):
        assert service.proc.stop(sig) == 0, service.proc.log()

    spans = backend.wait_for_spans_since(start_ns, SPANS_PER_REQUEST)
    assert sorted(s["service_name"] for s in spans) == ["buzzer", "fizzer", "hub", "hub", "hub"]
    for service in (hub, fizzer, buzzer):
        assert "Traceback" not in service.proc.log()
