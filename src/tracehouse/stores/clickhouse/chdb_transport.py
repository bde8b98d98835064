"""chDB (ClickHouse in-process, the modern dialect) as a Transport: how the store's SQL is tested on a
current ClickHouse where no current server can be installed. chDB is a development dependency only.

Inserts write the Native block to a private file and read it with file(..., 'Native'): chDB takes
statements as text, not a binary body. Settings are appended as a SETTINGS clause (the store only
passes settings with SELECT statements, which it ends itself).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from tracehouse.stores.clickhouse.quoting import Identifier, literal, statement
from tracehouse.stores.clickhouse.transport import Settings, error_from_text


class ChdbTransport:
    def __init__(self, path: Path) -> None:
        from chdb import session  # a development dependency, loaded only when used

        self._session: Any = session.Session(str(path))  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()
        self._spool = Path(tempfile.mkdtemp(prefix="tracehouse-chdb-"))

    def _run(self, sql: str, fmt: str, database: str | None = None) -> bytes:
        with self._lock:
            try:
                if database:
                    self._session.query(f"USE `{database}`", "TabSeparated")
                result = self._session.query(sql, fmt)
            except Exception as exc:  # chDB raises one error type for everything ClickHouse reports
                raise error_from_text(str(exc)) from exc
        data = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return bytes(data)

    def query(self, sql: str, fmt: str | None = None, settings: Settings | None = None,
              database: str | None = None) -> bytes:
        text = sql.rstrip().rstrip(";")
        if settings:
            text += "\nSETTINGS " + ", ".join(f"{k} = {literal(v)}" for k, v in settings.items())
        return self._run(text, fmt or "TabSeparated", database)

    def insert(self, table: str, native_block: bytes, settings: Settings | None = None) -> None:
        fd, name = tempfile.mkstemp(dir=self._spool, suffix=".native")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(native_block)
            self._run(statement("write/insert_from_file", table=Identifier(table), path=name), "TabSeparated")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):
                self._session.close()
            with contextlib.suppress(OSError):
                self._spool.rmdir()
