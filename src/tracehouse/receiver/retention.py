"""Background retention: deletes spans past the age limit and trims the store to its size cap.

The work runs on the ingest commit thread (the store's only writer), scheduled every interval.
"""

from __future__ import annotations

import logging
import threading
import time

from tracehouse.receiver.ingest import Ingest, IngestClosedError
from tracehouse.store import SpanWriter

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, ingest: Ingest, retention_seconds: int, max_size_bytes: int, interval_seconds: float) -> None:
        self._ingest = ingest
        self._retention_ns = retention_seconds * 1_000_000_000
        self._max_size = max_size_bytes
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tracehouse-retention", daemon=True)
        self.deleted = 0

    def start(self) -> None:
        if self._retention_ns or self._max_size:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self, writer: SpanWriter) -> None:
        if self._retention_ns:
            self.deleted += writer.delete_before(time.time_ns() - self._retention_ns)
        if self._max_size:
            self.deleted += writer.enforce_max_size(self._max_size)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._ingest.run_task(self.run_once).result()
            except IngestClosedError:
                return
            except Exception:
                log.exception("retention pass failed; will try again")
