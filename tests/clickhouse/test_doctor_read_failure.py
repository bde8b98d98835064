"""doctor when a store read fails mid-run: the ClickHouse server killed (kill -9) after the window's
reads and before the baseline's, as a shard going down between them would. doctor reads on a worker
thread; the store's error must reach the caller as the store raised it, at once, with no read after
it and no worker thread left behind, and the same store must serve the next doctor normally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.clickhouse_local import ClickHouseServer
from tests.analytics.failing_reads import BreaksBeforeTheBaseline, doctor_threads, failed_doctor
from tests.store_conformance.traces import BASE_NS, batch, fbaas_trace

from tracehouse.analytics.doctor import doctor
from tracehouse.store import AnalysisFilter
from tracehouse.stores.clickhouse import ClickHouseStore, parse_location
from tracehouse.stores.clickhouse.transport import ClickHouseUnavailable

SECOND = 10**9
START = 180.0      # a server starting, on a loaded machine
DOCTOR = 120.0     # doctor failing: seconds here, unless it hangs
pytestmark = pytest.mark.timeout(900)


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

    reader = BreaksBeforeTheBaseline(store, window, server.kill)
    error = failed_doctor(reader, window, 30, DOCTOR)
    assert isinstance(error, ClickHouseUnavailable), repr(error)
    assert "unreachable" in str(error)

    server.start(timeout=START)   # the same files and ports: the same store, back
    assert doctor(store, window, None, 30).to_json() == normal
    assert doctor_threads() == []
