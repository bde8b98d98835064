"""Turning spooled payloads into Arrow batches, in a worker process.

Measured on the 2-core target: the backend process is GIL-bound when it both serves HTTP and walks
protobuf into columns (~57k spans/s with three threads). The walk moves to a spawned worker so the
two cores do different work; DuckDB's insert already runs without the GIL.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pyarrow as pa

from tracehouse.otlp.columns import decode_payloads, decode_payloads_ipc

log = logging.getLogger(__name__)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when the worker stops, after
    # it has drained the spool, so the worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class BatchDecoder:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = self._new_pool()
            self._pool.submit(decode_payloads_ipc, []).result()  # start it now, not on the first request

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_interrupts)

    def decode(self, payloads: list[bytes]) -> tuple[pa.Table | None, int, str]:
        """One table for all payloads (None if they hold no spans), spans rejected, and why."""
        if self._pool is None:
            return decode_payloads(payloads)
        try:
            ipc, rejected, message = self._pool.submit(decode_payloads_ipc, payloads).result()
        except BrokenProcessPool:
            log.error("the decode worker died; starting a new one")
            self._pool = self._new_pool()
            ipc, rejected, message = self._pool.submit(decode_payloads_ipc, payloads).result()
        table = pa.ipc.open_stream(ipc).read_all() if ipc else None
        return table, rejected, message

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
