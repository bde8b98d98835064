"""doctor when a store read fails mid-run: the ClickHouse server killed (kill -9) after the window's
reads and before the baseline's, as a shard going down between them would. doctor reads on a worker
thread; the store's error must reach the caller as the store raised it, at once, with no read after
it and no worker thread left behind, and the same store must serve the next doctor normally."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.store_conformance.traces import BASE_NS, batch, fbaas_trace

from tracehouse.analytics.doctor import doctor
from tracehouse.store import AnalysisFilter
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.clickhouse.transport import ClickHouseUnavailable

SECOND = 10**9
START = 180.0      # a server starting, on a loaded machine
DOCTOR = 120.0     # doctor failing: seconds here, unless it hangs
pytestmark = pytest.mark.timeout(900)


class KillsTheServerBeforeTheBaseline:
    """The real store as doctor's reader, recording each read (which, of which side, on which
    thread), that kills the server just before its first read of a side other than the window: the
    window's sample and count are read by then, and the baseline's sample is what fails."""

    def __init__(self, store: ClickHouseStore, server: ClickHouseServer, window: AnalysisFilter) -> None:
        self._store = store
        self._server = server
        self._window_start = window.start_ns
        self.reads: list[tuple[str, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _side(self, flt: AnalysisFilter) -> str:
        return "window" if flt.start_ns == self._window_start else "baseline"

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        side = self._side(flt)
        self.reads.append(("sample", side, threading.current_thread().name))
        if side == "baseline":
            self._server.kill()
        return self._store.cause_sample(flt, max_traces)

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        self.reads.append(("count", self._side(flt), threading.current_thread().name))
        return self._store.trace_times(flt)


def doctor_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("doctor")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ClickHouseServer]:
    """A server of this test's own, since the test kills it."""
    own = ClickHouseServer(tmp_path / "clickhouse")
    own.start(timeout=START)
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def store(server: ClickHouseServer) -> Iterator[ClickHouseStore]:
    opened = ClickHouseStore(parse_location(f"clickhouse://127.0.0.1:{server.http_port}/doctor_failure"))
    try:
        yield opened
    finally:
        opened.close()


def test_a_server_killed_between_the_window_and_the_baseline(server: ClickHouseServer, store: ClickHouseStore) -> None:
    store.write_spans(batch([fbaas_trace(BASE_NS + k * SECOND, error_in="buzzer" if k % 7 == 3 else None)
                             for k in range(150)]))
    # Samples of 30 from 75 traces a side: both sides take the sampled reads.
    window = AnalysisFilter(start_ns=BASE_NS + 75 * SECOND, end_ns=BASE_NS + 150 * SECOND)
    normal = doctor(store, window, None, 30).to_json()
    assert "sample of 30 of the window's 75 traces and 30 of the baseline's 75" in " ".join(normal["notes"])
    assert doctor_threads() == []

    reader = KillsTheServerBeforeTheBaseline(store, server, window)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            doctor(reader, window, None, 30)
        except BaseException as exc:   # handed to the test's thread to assert on
            outcome.append(exc)

    caller = threading.Thread(target=run, name="caller")
    caller.start()
    caller.join(DOCTOR)
    assert not caller.is_alive(), f"doctor hung after the server died; reads: {reader.reads}"
    assert len(outcome) == 1, "doctor returned a report from a store whose server died"
    error = outcome[0]
    assert isinstance(error, ClickHouseUnavailable), repr(error)
    assert "unreachable" in str(error)
    # The window's count for the plan (on the caller's thread), then the window's reads on the worker
    # thread, which succeeded; the baseline's count, after its sample, was never read.
    assert [(what, side) for what, side, _ in reader.reads] == [
        ("count", "window"), ("sample", "window"), ("count", "window"), ("sample", "baseline")]
    assert {thread for _, _, thread in reader.reads[1:]} == {"doctor-reads_0"}
    assert doctor_threads() == []

    server.start(timeout=START)   # the same files and ports: the same store, back
    assert doctor(store, window, None, 30).to_json() == normal
    assert doctor_threads() == []
