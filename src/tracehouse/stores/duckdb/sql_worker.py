"""The child side of users' SQL: one query in a process of its own, under a hard memory cap (ADR 19).

Started by sql_workers.SqlWorkers as `python -m tracehouse.stores.duckdb.sql_worker`, a fork
server: it imports DuckDB once (~0.5 s) and forks a child per query (milliseconds). The child opens
the store snapshot read-only in its own DuckDB instance (its own buffer pool, its own
`max_execution_time`), caps its own address space with RLIMIT_AS at what it uses now plus the
query's memory cap, runs the query through the sandbox, sends one reply and exits. Memory
DuckDB does not count (a list built by `range`, a string built by `repeat`) still counts against
RLIMIT_AS, so such a query fails with DuckDB's out-of-memory error instead of growing; anything that
escapes even that (a step DuckDB cannot interrupt) is killed by the parent at the time limit.

Messages on the query's socket are pickled objects: the request, then ("started",) from the child
and ("ok", SqlResult) or (kind, message) with kind one of "refused", "timeout", "memory", "error".
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import socket
import struct
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import duckdb

from tracehouse.store import SqlRefusedError, SqlTimeoutError, StoreError
from tracehouse.stores.duckdb.connection import open_database, use_store
from tracehouse.stores.duckdb.sandbox import run_user_sql

# A fork server that is given no query for this long exits (the parent starts a new one when needed).
IDLE_SECONDS = 300.0


def _address_space() -> int:
    """Bytes of address space this process maps now (VmSize)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _memory_message(cap: int) -> str:
    return (f"the query needed more than its memory cap of {cap // 2**20:,} MiB and was stopped "
            "(TRACEHOUSE_SQL_MEMORY); aggregate or filter more, or LIMIT the rows")


def run_request(request: dict[str, Any], reply: Connection) -> tuple[Any, ...]:
    cap = int(request["memory_bytes"])
    timeout = float(request["timeout_seconds"])
    config: dict[str, str | bool | int | float | list[str]] = {
        # DuckDB's own pool gets half the cap: its operators (joins, sorts, aggregates) fail or
        # spill cleanly before the process reaches RLIMIT_AS; the rest is for values DuckDB
        # allocates outside its pool, and for the result rows.
        "memory_limit": f"{max(cap // 2, 16 * 2**20)}B",
        "max_temp_directory_size": f"{cap}B",
        "threads": 2,
        "max_execution_time": max(1, int(timeout * 1000)),
    }
    try:
        con = open_database(Path(request["path"]), "", read_only=True, row_group_size=int(request["row_group_size"]),
                            extra_config=config)
    except StoreError as exc:
        return ("error", str(exc))
    limit = _address_space() + cap
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    reply.send(("started",))
    try:
        result = run_user_sql(use_store(con.cursor()), request["sql"], int(request["max_rows"]), timeout,
                              request["params"])
        return ("ok", result)
    except SqlRefusedError as exc:
        return ("refused", str(exc))
    except SqlTimeoutError as exc:
        return ("timeout", str(exc))
    except (MemoryError, duckdb.OutOfMemoryException):
        return ("memory", _memory_message(cap))
    except StoreError as exc:
        if isinstance(exc.__cause__, duckdb.OutOfMemoryException) or "out of memory" in str(exc).lower():
            return ("memory", _memory_message(cap))
        return ("error", str(exc))


def _serve_query(conn: Connection) -> None:
    """In a forked child: one request from `conn`, one reply."""
    try:
        request = conn.recv()
    except (EOFError, OSError):
        return
    cap = int(request["memory_bytes"])
    try:
        answer = run_request(request, conn)
    except MemoryError:
        answer = ("memory", _memory_message(cap))
    try:
        data = pickle.dumps(answer)  # whole, before sending: a reply is never cut half-way
    except MemoryError:
        data = pickle.dumps(("memory", _memory_message(cap)))
    with contextlib.suppress(OSError):
        conn.send_bytes(data)


def main() -> int:
    """The fork server: imports done once, then a fork per query. Commands arrive on fd 0 (a Unix
    socket): b"fork" with the query's socket as a passed fd (answered with the child's pid), or
    b"done <pid>" once the parent has killed or heard from that child (it is then reaped; until
    then its pid cannot be reused, so the parent's kill can never hit another process). EOF, or
    IDLE_SECONDS without a command, ends the server and any children still running."""
    os.dup2(2, 1)  # stray prints go to stderr
    control = socket.socket(fileno=0)
    children: set[int] = set()
    while True:
        readable, _, _ = select.select([control], [], [], IDLE_SECONDS)
        if not readable:
            break
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            break
        if not message:
            break
        if message == b"fork" and fds:
            pid = os.fork()
            if pid == 0:
                control.close()
                code = 0
                try:
                    _serve_query(Connection(fds[0]))
                except BaseException:
                    code = 1
                os._exit(code)
            os.close(fds[0])
            children.add(pid)
            control.sendall(struct.pack("!q", pid))
        elif message.startswith(b"done "):
            pid = int(message[5:])
            if pid in children:
                children.discard(pid)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
