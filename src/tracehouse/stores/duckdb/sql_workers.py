"""The parent side of users' SQL: a worker process per query, on a snapshot of the store (ADR 19).

DuckDB has one memory limit per database instance and no per-query pool, and some of a query's
memory (a list built by `range(x * x)`, a string built by `repeat`) is not counted against any
limit, in steps the interrupt cannot stop. So users' SQL never runs on the writer's instance: each
query runs in a process of its own (sql_worker.py), with its own DuckDB instance, a hard address
space cap, DuckDB's `max_execution_time`, and a kill at the time limit as the backstop.

A second process cannot open a store file that a writer holds (DuckDB's file lock), so a writable
store gives the worker a snapshot: a copy of the store file and its WAL taken while no write runs
(SqlSnapshots), made again only when the store changed since the last one. A read-only store (the
CLI on a store file) hands the worker the file itself.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tracehouse.model import SqlResult
from tracehouse.store import SqlMemoryError, SqlRefusedError, SqlTimeoutError, StoreError

log = logging.getLogger(__name__)

# How long a worker may take to start and open the snapshot before its query's clock starts.
START_SECONDS = 60.0
# After the time limit, how long the engine's own stop may take before the worker is killed.
KILL_GRACE_SECONDS = 0.5


class SqlWorkers:
    """Runs each query in a process of its own, forked by a fork server (sql_worker.py) that this
    object starts on the first query: forking an already started Python with DuckDB imported takes
    milliseconds, starting one ~0.5 s. The server exits by itself after sql_worker.IDLE_SECONDS
    without a query, and is started again when needed."""

    def __init__(self, memory_bytes: int, row_group_size: int) -> None:
        self.memory_bytes = memory_bytes
        self._row_group_size = row_group_size
        self._server: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    def _fork(self) -> tuple[int, Connection]:
        """A new child of the fork server, and our end of its query socket."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                for attempt in (1, 2):
                    try:
                        control = self._started_server()
                        socket.send_fds(control, [b"fork"], [theirs.fileno()])
                        answer = _receive_exactly(control, 8)
                        return struct.unpack("!q", answer)[0], Connection(ours.detach())
                    except OSError:
                        self._stop_server()  # it exited (idle) or died: start another, once
                        if attempt == 2:
                            raise
            raise AssertionError("unreachable")
        finally:
            theirs.close()
            if ours.fileno() != -1:
                ours.close()

    def _started_server(self) -> socket.socket:
        if self._server is not None and self._server.poll() is None and self._control is not None:
            return self._control
        self._stop_server()
        # SEQPACKET: each command arrives as one message, never merged with the next.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._server = subprocess.Popen([sys.executable, "-m", "tracehouse.stores.duckdb.sql_worker"],
                                        stdin=theirs.fileno(), close_fds=True)
        theirs.close()
        self._control = ours
        return ours

    def _stop_server(self) -> None:
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.close()   # the server kills its children and exits on EOF
            self._control = None
        if self._server is not None:
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None

    def _done(self, pid: int) -> None:
        """Kill the child if it still runs, and let the server reap it. The server reaps a child only
        after this, so `pid` is still that child (a zombie at worst), never a reused pid."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        with self._lock:
            if self._control is not None:
                with contextlib.suppress(OSError):
                    self._control.sendall(b"done %d" % pid)

    def run(self, db_path: Path, sql: str, max_rows: int, timeout_seconds: float,
            params: Sequence[object]) -> SqlResult:
        try:
            pid, conn = self._fork()
        except OSError as exc:
            raise StoreError(f"cannot start a process for the query: {exc}") from exc
        request = {"path": str(db_path), "sql": sql, "max_rows": max_rows, "timeout_seconds": timeout_seconds,
                   "params": list(params), "memory_bytes": self.memory_bytes,
                   "row_group_size": self._row_group_size}
        try:
            conn.send(request)
            deadline = time.monotonic() + START_SECONDS
            while True:
                if not conn.poll(max(0.0, deadline - time.monotonic())):
                    raise SqlTimeoutError(
                        f"the query ran past its time limit of {timeout_seconds:g} s and was stopped")
                try:
                    reply = conn.recv()
                except (EOFError, OSError):
                    raise self._died(pid) from None
                if reply[0] == "started":
                    deadline = time.monotonic() + timeout_seconds + KILL_GRACE_SECONDS
                    continue
                return _answer(reply)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise self._died(pid) from exc
        finally:
            conn.close()
            self._done(pid)

    def _died(self, pid: int) -> StoreError:
        log.warning("the SQL process %d ended without an answer", pid)
        return SqlMemoryError(
            f"the query was stopped: its process ended without an answer, most likely at its memory cap of "
            f"{self.memory_bytes // 2**20:,} MiB (TRACEHOUSE_SQL_MEMORY)")

    def close(self) -> None:
        with self._lock:
            self._stop_server()


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("the SQL fork server closed its socket")
        data += chunk
    return data


def _answer(reply: tuple[Any, ...]) -> SqlResult:
    kind = reply[0]
    if kind == "ok" and isinstance(reply[1], SqlResult):
        return reply[1]
    message = str(reply[1])
    if kind == "refused":
        raise SqlRefusedError(message)
    if kind == "timeout":
        raise SqlTimeoutError(message)
    if kind == "memory":
        raise SqlMemoryError(message)
    raise StoreError(message)


# A WAL larger than this is checkpointed into the store file before a snapshot is copied.
SNAPSHOT_WAL_MAX = 1 * 2**20


class SqlSnapshots:
    """Copies of a writable store for the SQL workers, in `<store>.sql-snapshots/<n>/`.

    A copy is taken under the store's write lock (`write_lock`), so no commit, checkpoint or delete
    runs while the file and its WAL are copied: the copy holds exactly the committed data. It is
    taken again only when `changes()` moved since the last one, and removed once it is neither the
    latest nor used by a running query. A copy that would leave less than `reserve_bytes` free is
    refused: that room belongs to ingest (the spool and the store's commits, --disk-reserve)."""

    def __init__(self, store_path: Path, write_lock: threading.RLock, changes: Callable[[], int],
                 checkpoint: Callable[[], None], reserve_bytes: int = 0) -> None:
        self._store = store_path
        self._reserve = reserve_bytes
        self._checkpoint = checkpoint
        self._dir = store_path.with_name(store_path.name + ".sql-snapshots")
        self._write_lock = write_lock
        self._changes = changes
        self._lock = threading.Lock()
        self._current: tuple[int, Path] | None = None
        self._users: dict[Path, int] = {}
        self._serial = 0
        shutil.rmtree(self._dir, ignore_errors=True)  # left by a process that stopped

    @contextlib.contextmanager
    def use(self) -> Iterator[Path]:
        with self._lock:
            if self._current is None or self._current[0] != self._changes():
                self._replace()
            assert self._current is not None
            path = self._current[1]
            self._users[path] = self._users.get(path, 0) + 1
        try:
            yield path
        finally:
            with self._lock:
                self._users[path] -= 1
                if not self._users[path] and (self._current is None or self._current[1] != path):
                    del self._users[path]
                    shutil.rmtree(path.parent, ignore_errors=True)

    def _replace(self) -> None:
        self._serial += 1
        target = self._dir / str(self._serial) / self._store.name
        target.parent.mkdir(parents=True, exist_ok=True)
        wal = self._store.with_name(self._store.name + ".wal")
        try:
            with self._write_lock:
                # Every worker replays the copied WAL when it opens the copy: measured at 1.9 s a
                # query for a 12.6 MB WAL on a busy machine. A checkpoint first leaves it empty.
                if wal.exists() and wal.stat().st_size > SNAPSHOT_WAL_MAX:
                    self._checkpoint()
                changes = self._changes()
                self._check_room(target.parent, wal)
                shutil.copyfile(self._store, target)
                if wal.exists():
                    shutil.copyfile(wal, target.with_name(wal.name))
        except OSError as exc:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise StoreError(f"cannot copy the store for SQL ({exc.strerror}); free some disk space") from exc
        old, self._current = self._current, (changes, target)
        if old is not None and not self._users.get(old[1]):
            self._users.pop(old[1], None)
            shutil.rmtree(old[1].parent, ignore_errors=True)

    def _check_room(self, directory: Path, wal: Path) -> None:
        need = self._store.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        free = shutil.disk_usage(directory).free
        if free - need < self._reserve:
            raise OSError(errno.ENOSPC, f"a copy of the store for SQL needs {need / 2**20:.0f} MiB and "
                          f"{self._reserve / 2**20:.0f} MiB must stay free for ingest (--disk-reserve), "
                          f"but only {free / 2**20:.0f} MiB are free")

    def close(self) -> None:
        with self._lock:
            self._current = None
            if not any(self._users.values()):
                shutil.rmtree(self._dir, ignore_errors=True)
