"""doctor's reader with a failure planted between the window's reads and the baseline's, for the
read-failure tests of both stores (tests/analytics/test_doctor_read_failure.py: a full disk under
DuckDB; tests/clickhouse/test_doctor_read_failure.py: a ClickHouse server killed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from tracehouse.analytics.doctor import doctor
from tracehouse.store import AnalysisFilter

#: the reads up to the failure: the window's count for the plan (on the caller's thread), then the
#: window's reads on the worker thread, which succeed, then the baseline's sample, which fails (its
#: count, after the sample, is never read)
READS_UNTIL_THE_BASELINE = [("count", "window"), ("sample", "window"), ("count", "window"), ("sample", "baseline")]


class BreaksBeforeTheBaseline:
    """The real store as doctor's reader, recording each read (which, of which side, on which
    thread), that calls `breaks` just before its first read of a side other than the window."""

    def __init__(self, store: Any, window: AnalysisFilter, breaks: Callable[[], None]) -> None:
        self._store = store
        self._window_start = window.start_ns
        self._breaks = breaks
        self.reads: list[tuple[str, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _side(self, flt: AnalysisFilter) -> str:
        return "window" if flt.start_ns == self._window_start else "baseline"

    def cause_sample(self, flt: AnalysisFilter, max_traces: int) -> pa.Table:
        side = self._side(flt)
        self.reads.append(("sample", side, threading.current_thread().name))
        if side == "baseline":
            self._breaks()
        return self._store.cause_sample(flt, max_traces)

    def trace_times(self, flt: AnalysisFilter) -> tuple[int, int | None, int | None]:
        self.reads.append(("count", self._side(flt), threading.current_thread().name))
        return self._store.trace_times(flt)


def doctor_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("doctor")]


def failed_doctor(reader: BreaksBeforeTheBaseline, window: AnalysisFilter, sample: int,
                  seconds: float) -> BaseException:
    """doctor on `reader`, run on a thread of its own so that a hang fails the test instead of
    stopping it; the error it raised, after checking that it raised one, at once, after exactly the
    reads up to the baseline's sample, all but the first on doctor's one worker thread, and left no
    worker thread behind."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            doctor(reader, window, None, sample)
        except BaseException as exc:   # handed to the test's thread to assert on
            outcome.append(exc)

    caller = threading.Thread(target=run, name="caller")
    caller.start()
    caller.join(seconds)
    assert not caller.is_alive(), f"doctor hung after the read failed; reads: {reader.reads}"
    assert len(outcome) == 1, "doctor returned a report though the baseline could not be read"
    assert [(what, side) for what, side, _ in reader.reads] == READS_UNTIL_THE_BASELINE
    assert {thread for _, _, thread in reader.reads[1:]} == {"doctor-reads_0"}
    assert doctor_threads() == []
    return outcome[0]
