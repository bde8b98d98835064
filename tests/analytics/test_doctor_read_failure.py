"""doctor when a DuckDB read fails mid-run, the embedded store's counterpart of
tests/clickhouse/test_doctor_read_failure.py: the store's disk fills up after the window's reads and
before the baseline's. The store's memory limit is small, so each side's sample (the spans of 2,000
traces with long attributes, sorted) spills to the temp directory beside the store file, on the same
small filesystem; with it full, the baseline's spill fails. The error must reach the caller as the
contract's StoreError (the API answers it with a 503 and its message), at once, with no read after it
and no worker thread left behind, and once the disk has room the same store gives the same report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.analytics.failing_reads import BreaksBeforeTheBaseline, doctor_threads, failed_doctor
from tests.backend.small_fs import fill, small_filesystem
from tests.store_conformance.traces import BASE_NS, batch, fbaas_trace

from tracehouse.analytics.doctor import doctor
from tracehouse.store import AnalysisFilter, StoreUnavailableError
from tracehouse.stores.duckdb import DuckDBStore

TENTH = 10**8
SIDE = 2_000            # traces a side, all in each side's sample
USER_BYTES = 3_000      # a root attribute this long (random hex): ~6 MB a side to sort within 32 MB
DOCTOR = 120.0          # doctor failing: seconds here, unless it hangs
pytestmark = pytest.mark.timeout(600)


def test_a_full_disk_while_the_baseline_spills(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", 96) as fs:
        store = DuckDBStore(fs / "tracehouse.duckdb", memory_limit="32MB")
        try:
            for first in range(0, 2 * SIDE, 500):
                store.write_spans(batch([fbaas_trace(BASE_NS + k * TENTH, error_in="buzzer" if k % 7 == 3 else None,
                                                     user=os.urandom(USER_BYTES // 2).hex())
                                         for k in range(first, first + 500)]))
            window = AnalysisFilter(start_ns=BASE_NS + SIDE * TENTH, end_ns=BASE_NS + 2 * SIDE * TENTH)
            normal = doctor(store, window, None, SIDE).to_json()
            assert "the baseline is the 3.33333m before the window" in " ".join(normal["notes"])
            assert doctor_threads() == []

            ballast: list[Path] = []
            reader = BreaksBeforeTheBaseline(store, window, lambda: ballast.append(fill(fs)))
            error = failed_doctor(reader, window, SIDE, DOCTOR)
            assert len(ballast) == 1
            assert isinstance(error, StoreUnavailableError), repr(error)
            assert str(error).startswith("the store cannot read for now: ") and "No space left on device" in str(error)

            ballast[0].unlink()   # room again: the same store, the same report
            assert doctor(store, window, None, SIDE).to_json() == normal
            assert doctor_threads() == []
        finally:
            store.close()
