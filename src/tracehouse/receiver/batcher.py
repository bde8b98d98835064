"""The batcher: the one thread that commits to the store, grouping waiting requests into one commit.

Receivers decode a request, `submit()` its batch and wait for the returned future, which completes
only after the commit that contains the batch has returned (durable). While one commit runs, newer
batches queue up and go into the next commit together ("group commit"): a busy server makes fewer,
larger commits, which is what keeps throughput high (DuckDB inserts 50k-row batches ~5x faster per
row than 5k-row ones).

The queue is bounded by spans: `submit()` raises QueueFullError at once instead of growing, and
the receivers turn that into 503 + Retry-After or UNAVAILABLE + RetryInfo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pyarrow as pa

from tracehouse.store import SpanWriter

log = logging.getLogger(__name__)


class QueueFullError(Exception):
    """The queue in front of the store is full; retry after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"the backend is busy storing earlier spans; retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class BatcherClosedError(Exception):
    """The backend is shutting down and accepts no more spans."""


@dataclass
class _Item:
    table: pa.Table | None
    future: Future[None]
    task: Callable[[SpanWriter], object] | None = None


@dataclass
class BatcherStats:
    commits: int = 0
    spans_stored: int = 0
    spans_received: int = 0
    largest_commit: int = 0
    commit_seconds: float = 0.0
    failures: int = 0
    last_error: str = field(default="")


class Batcher:
    def __init__(self, writer: SpanWriter, max_queue_spans: int, max_batch_spans: int) -> None:
        self._writer = writer
        self._max_queue = max(1, max_queue_spans)
        self._max_batch = max(1, max_batch_spans)
        self._items: deque[_Item] = deque()
        self._queued_spans = 0
        self._cond = threading.Condition()
        self._closing = False
        self.stats = BatcherStats()
        self._thread = threading.Thread(target=self._run, name="tracehouse-batcher", daemon=True)
        self._thread.start()

    @property
    def queued_spans(self) -> int:
        return self._queued_spans

    def submit(self, table: pa.Table) -> Future[None]:
        """Queue a decoded batch; the future resolves after it is durably stored."""
        future: Future[None] = Future()
        rows = int(table.num_rows)
        if rows == 0:
            future.set_result(None)
            return future
        with self._cond:
            if self._closing:
                raise BatcherClosedError("the backend is shutting down")
            # A batch larger than the whole queue is still let in when the queue is empty, so one
            # big (but size-capped) request cannot be refused forever.
            if self._queued_spans and self._queued_spans + rows > self._max_queue:
                raise QueueFullError(retry_after_seconds=1)
            self._items.append(_Item(table, future))
            self._queued_spans += rows
            self._cond.notify()
        return future

    def run_task(self, task: Callable[[SpanWriter], object]) -> Future[None]:
        """Run `task(writer)` on the batcher thread, between commits (retention uses this)."""
        future: Future[None] = Future()
        with self._cond:
            if self._closing:
                raise BatcherClosedError("the backend is shutting down")
            self._items.append(_Item(None, future, task))
            self._cond.notify()
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, commit everything already queued, and stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _take(self) -> tuple[list[_Item], _Item | None]:
        with self._cond:
            while not self._items and not self._closing:
                self._cond.wait()
            batch: list[_Item] = []
            spans = 0
            while self._items:
                head = self._items[0]
                if head.task is not None:
                    if batch:
                        break
                    return [], self._items.popleft()
                assert head.table is not None
                if batch and spans + head.table.num_rows > self._max_batch:
                    break
                batch.append(self._items.popleft())
                spans += head.table.num_rows
            return batch, None

    def _run(self) -> None:
        while True:
            batch, task = self._take()
            if task is not None:
                self._run_task(task)
                continue
            if not batch:
                return  # closing and drained
            self._commit(batch)

    def _run_task(self, item: _Item) -> None:
        assert item.task is not None
        try:
            item.task(self._writer)
            item.future.set_result(None)
        except Exception as exc:
            log.exception("store maintenance task failed")
            item.future.set_exception(exc)

    def _commit(self, batch: list[_Item]) -> None:
        tables = [item.table for item in batch if item.table is not None]
        rows = sum(t.num_rows for t in tables)
        started = time.perf_counter()
        try:
            result = self._writer.write_spans(pa.concat_tables(tables) if len(tables) > 1 else tables[0])
        except Exception as exc:
            log.exception("commit of %d spans failed", rows)
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            for item in batch:
                item.future.set_exception(exc)
        else:
            self.stats.commits += 1
            self.stats.spans_received += result.received
            self.stats.spans_stored += result.stored
            self.stats.largest_commit = max(self.stats.largest_commit, rows)
            self.stats.commit_seconds += time.perf_counter() - started
            for item in batch:
                item.future.set_result(None)
        finally:
            with self._cond:
                self._queued_spans -= rows
