"""How statements reach ClickHouse. `HttpTransport`: the HTTP interface of any server (18.16 and up),
with the Python standard library only. Other transports (chDB in-process, for testing the modern
dialect) implement the same small `Transport` protocol.

Every SELECT is sent with wait_end_of_query=1, so an error that happens after the first rows is an
HTTP error, never a truncated body that looks like a short answer.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Protocol

from tracehouse.store import StoreError, StoreUnavailableError

Settings = Mapping[str, str | int | float]

_CODE = re.compile(r"Code: (\d+)")

# Error codes that mean "part of the cluster is not reachable now; retry later" rather than "the
# statement is wrong": the ingest pipeline keeps batches in the spool and retries on these.
UNAVAILABLE_CODES = frozenset({
    32,    # ATTEMPT_TO_READ_AFTER_EOF
    198,   # DNS_ERROR
    209,   # SOCKET_TIMEOUT
    210,   # NETWORK_ERROR
    242,   # TABLE_IS_READ_ONLY (replicated table without ZooKeeper)
    225,   # NO_ZOOKEEPER
    279,   # ALL_CONNECTION_TRIES_FAILED
    319,   # UNKNOWN_STATUS_OF_INSERT
    999,   # KEEPER_EXCEPTION
})


_SHARD_MISSING_CODES = frozenset({279, 210, 32, 209})
_ZOOKEEPER_CODES = frozenset({242, 225, 999})


class ClickHouseError(StoreError):
    """ClickHouse refused or failed a statement; `code` is its error code (0 if none was given)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class ClickHouseUnavailable(ClickHouseError, StoreUnavailableError):
    """The server, a shard or ZooKeeper cannot be reached: try again later. A StoreUnavailableError,
    so the ingest pipeline keeps the batch in the spool and retries it whole, rather than splitting
    it and dead-lettering spans the store would take a moment later. (An insert whose outcome is
    unknown, code 319 or a timeout, is safe to retry: write_spans skips spans already stored.)"""


def error_from_text(text: str) -> ClickHouseError:
    text = text.strip()
    match = _CODE.search(text)
    code = int(match.group(1)) if match else 0
    message = text.splitlines()[0] if text else "ClickHouse failed without a message"
    message = re.sub(r", e\.what\(\) = .*$", "", message)
    if code in _SHARD_MISSING_CODES:
        return ClickHouseUnavailable(f"a ClickHouse shard is missing (no replica of it answers), so there is no "
                                     f"complete answer: {message}", code)
    if code in _ZOOKEEPER_CODES:
        return ClickHouseUnavailable(f"ClickHouse's replicated tables are read-only while ZooKeeper is "
                                     f"unreachable: {message}", code)
    if code in UNAVAILABLE_CODES:
        return ClickHouseUnavailable(message, code)
    return ClickHouseError(message, code)


class Transport(Protocol):
    def query(self, sql: str, fmt: str | None = None, settings: Settings | None = None,
              database: str | None = None) -> bytes:
        """Run one statement (unqualified names in `database`); with `fmt`, the result in that
        ClickHouse output format."""
        ...

    def insert(self, table: str, native_block: bytes, settings: Settings | None = None) -> None:
        """`INSERT INTO table FORMAT Native` with one block built by `native.block`."""
        ...

    def close(self) -> None:
        ...


class HttpTransport:
    """The HTTP interface, one keep-alive connection per thread."""

    def __init__(self, base_url: str, user: str = "default", password: str = "",
                 timeout: float = 300.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 8123
        self._timeout = timeout
        self._headers = {"Content-Type": "application/octet-stream"}
        if user != "default" or password:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._local = threading.local()
        self._closed = False

    def _connection(self) -> http.client.HTTPConnection:
        con: http.client.HTTPConnection | None = getattr(self._local, "con", None)
        if con is None:
            con = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.con = con
        return con

    def _post(self, params: dict[str, str], body: bytes) -> bytes:
        if self._closed:
            raise StoreError("the ClickHouse store is closed")
        path = "/?" + urllib.parse.urlencode(params)
        for attempt in (1, 2):
            con = self._connection()
            try:
                con.request("POST", path, body=body, headers=self._headers)
                response = con.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                con.close()
                self._local.con = None
                # A kept-alive connection the server closed in the meantime fails at once: retry
                # once on a new one. A refused or timed-out connection is the server being down.
                if attempt == 1 and isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError
                                                | ConnectionResetError):
                    continue
                if isinstance(exc, socket.timeout | TimeoutError):
                    raise ClickHouseUnavailable(f"ClickHouse at {self._host}:{self._port} did not answer in time",
                                                209) from exc
                raise ClickHouseUnavailable(
                    f"ClickHouse at {self._host}:{self._port} is unreachable: {exc}", 210) from exc
            if response.status != 200:
                raise error_from_text(data.decode(errors="replace"))
            return data
        raise AssertionError("unreachable")

    def query(self, sql: str, fmt: str | None = None, settings: Settings | None = None,
              database: str | None = None) -> bytes:
        params = {k: str(v) for k, v in (settings or {}).items()}
        params["wait_end_of_query"] = "1"
        if database:
            params["database"] = database
        text = f"{sql.rstrip().rstrip(';')}\nFORMAT {fmt}" if fmt else sql
        return self._post(params, text.encode())

    def insert(self, table: str, native_block: bytes, settings: Settings | None = None) -> None:
        params = {k: str(v) for k, v in (settings or {}).items()}
        params["query"] = f"INSERT INTO {table} FORMAT Native"
        self._post(params, native_block)

    def close(self) -> None:
        self._closed = True
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
