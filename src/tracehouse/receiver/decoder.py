"""Turning spooled payloads into Arrow batches, in a worker process.

Measured on the 2-core target: the backend process is GIL-bound when it both serves HTTP and walks
protobuf into columns (~57k spans/s with three threads). The walk moves to a worker process so the
two cores do different work; DuckDB's insert already runs without the GIL.

The worker is a plain child process (`python -m tracehouse.receiver.decode_worker`) on one end of a
socket pair, not a multiprocessing pool: the decode thread hands it one chunk at a time, so a pool
had nothing to schedule, and its spawn context started a resource-tracker process (12 MB of RSS).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from multiprocessing.connection import Connection, Pipe

import pyarrow as pa

from tracehouse.otlp.columns import decode_payloads, to_table
from tracehouse.otlp.walk import PackedSpans

log = logging.getLogger(__name__)

WORKER_MODULE = "tracehouse.receiver.decode_worker"


class DecodeWorkerError(Exception):
    """The worker failed to decode a chunk (a bug: the payloads were validated when received)."""


class _Worker:
    def __init__(self) -> None:
        ours, theirs = Pipe(duplex=True)
        self.conn: Connection = ours
        self.proc = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()

    def decode(self, payloads: list[bytes]) -> PackedSpans:
        self.conn.send(payloads)
        status, rows, lengths, rejected, message = self.conn.recv()
        if status != "ok":
            raise DecodeWorkerError(message)
        return PackedSpans(rows, tuple(lengths), self.conn.recv_bytes(), rejected, message)

    def stop(self, timeout: float = 10.0) -> None:
        self.conn.close()   # the worker exits when its end reads EOF
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class BatchDecoder:
    """Decodes in one worker process (`workers` >= 1) or in the calling thread (`workers` == 0)."""

    def __init__(self, workers: int) -> None:
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        if workers > 0:
            self._worker = _Worker()
            self._worker.decode([])  # start it now, not on the first request

    def decode(self, payloads: list[bytes]) -> tuple[pa.Table | None, int, str]:
        """One table for all payloads (None if they hold no spans), spans rejected, and why."""
        if self._worker is None:
            return decode_payloads(payloads)
        with self._lock:
            try:
                packed = self._worker.decode(payloads)
            except (EOFError, OSError):
                log.error("the decode worker died; starting a new one")
                self._worker.stop()
                self._worker = _Worker()
                packed = self._worker.decode(payloads)
        table = to_table(packed) if packed.rows else None
        return table, packed.rejected, packed.error_message

    @property
    def worker_pid(self) -> int | None:
        return None if self._worker is None else self._worker.proc.pid

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
