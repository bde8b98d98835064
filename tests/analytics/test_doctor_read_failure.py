"""doctor when a DuckDB read fails mid-run, the embedded store's counterpart of
tests/clickhouse/test_doctor_read_failure.py: the store's disk fills up after the window's reads and
before the baseline's. The store's memory limit is small, so each side's sample (the spans of 2,000
traces with long attributes, sorted) spills to the temp directory beside the store file, on the same
small filesystem; with it full, the baseline's spill fails. The error must reach the caller as the
contract's StoreError (the API answers it with a 503 and its message), at once, with no read after it
and no worker thread left behind, and once the disk has room the same store gives the same report."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
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


class FillsTheDiskBeforeTheBaseline:
    """The real store as doctor's reader, recording each read (which, of which side, on which
    thread), that fills the store's filesystem just before its first read of a side other than the
    window: the window's sample and count are read by then, and the baseline's sample is what fails."""

    def __init__(self, store: DuckDBStore, filesystem: Path, window: AnalysisFilter) -> None:
        self._store = store
        self._filesystem = filesystem
        self._window_start = window.start_ns
        self.reads: list[tuple[str, str, str]] = []
        self.ballast: Path | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _side(self, flt: AnalysisFilter) -> str:
        return "window" if flt.start_ns == self._window_start else "baseline"

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        side = self._side(flt)
        self.reads.append(("sample", side, threading.current_thread().name))
        if side == "baseline":
            self.ballast = fill(self._filesystem)
        return self._store.cause_sample(flt, max_traces)

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        self.reads.append(("count", self._side(flt), threading.current_thread().name))
        return self._store.trace_times(flt)


def doctor_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("doctor")]


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

            reader = FillsTheDiskBeforeTheBaseline(store, fs, window)
            outcome: list[BaseException] = []

            def run() -> None:
                try:
                    doctor(reader, window, None, SIDE)
                except BaseException as exc:   # handed to the test's thread to assert on
                    outcome.append(exc)

            caller = threading.Thread(target=run, name="caller")
            caller.start()
            caller.join(DOCTOR)
            assert not caller.is_alive(), f"doctor hung on a full disk; reads: {reader.reads}"
            assert reader.ballast is not None
            assert len(outcome) == 1, "doctor returned a report though the baseline could not spill"
            error = outcome[0]
            assert isinstance(error, StoreUnavailableError), repr(error)
            assert str(error).startswith("the store cannot read for now: ") and "No space left on device" in str(error)
            # The window's count for the plan (on the caller's thread), then the window's reads on the
            # worker thread, which succeeded; the baseline's count, after its sample, was never read.
            assert [(what, side) for what, side, _ in reader.reads] == [
                ("count", "window"), ("sample", "window"), ("count", "window"), ("sample", "baseline")]
            assert {thread for _, _, thread in reader.reads[1:]} == {"doctor-reads_0"}
            assert doctor_threads() == []

            reader.ballast.unlink()   # room again: the same store, the same report
            assert doctor(store, window, None, SIDE).to_json() == normal
            assert doctor_threads() == []
        finally:
            store.close()
