"""Opening the DuckDB file: configuration, the sandbox settings, and the schema-version check."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import duckdb

from tracehouse.store import IncompatibleStoreError, StoreBusyError, StoreError
from tracehouse.stores.duckdb.sql_files import sql

SCHEMA_VERSION = "3"
# Stores of these older versions are upgraded in place by `tracehouse up`: version -> the SQL that
# brings such a store to SCHEMA_VERSION. Version 1 copies every span row once into the current layout
# (measured for 1 to 2: 15.5 s and 267 MB peak RSS for 5M spans); version 2 only gains columns.
UPGRADES = {"1": "migrate/v1_to_v2", "2": "migrate/v2_to_v3"}

log = logging.getLogger(__name__)


# The store file is attached under this name; every cursor is pointed at it (`use_store`).
CATALOG = "tracehouse"


def _config(memory_limit: str, path: Path) -> dict[str, str | bool | int | float | list[str]]:
    return {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "memory_limit": memory_limit,
        # The main database is in memory (the file is attached), so DuckDB would spill to ./.tmp
        # in whatever directory the backend was started from; keep spills next to the store.
        "temp_directory": f"{path}.tmp",
        # Every checkpoint recompresses the partly filled last row group; at the default 16MB the
        # store checkpointed every other batch. Measured on 400k FBaaS spans in 20k-span commits:
        # 16MB -> 47.6k spans/s and 118 bytes/span, 64MB -> 100k spans/s and 70.8 bytes/span.
        "checkpoint_threshold": "64MB",
    }


def _lock_down(con: duckdb.DuckDBPyConnection) -> None:
    # Users' SQL runs on this same database instance, so the instance itself is locked down once the
    # store is attached: no files outside the store, no network, no extensions, and no way to SET
    # those back (lock_configuration). The store needs none of them.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def use_store(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Point a new cursor of the instance at the store: each DuckDB connection has its own default
    database, and a new one starts in the empty in-memory one."""
    cursor.execute(f"USE {CATALOG}")
    return cursor


def open_database(path: Path, memory_limit: str, read_only: bool, row_group_size: int,
                  extra_config: dict[str, str | bool | int | float | list[str]] | None = None,
                  ) -> duckdb.DuckDBPyConnection:
    """Open (creating when writable) the store at `path` and check its schema version.

    The file is attached to an in-memory instance rather than opened as its main database, because
    only ATTACH takes a row group size (see DuckDBStore.ROW_GROUP_SIZE).

    Raises StoreError with a plain message when the directory is not writable or the file is not
    a DuckDB database, and IncompatibleStoreError when it was written by another schema version;
    in both cases the file is left as it was. `extra_config` adds or overrides DuckDB settings (the
    SQL worker's own limits).
    """
    if read_only and not path.exists():
        raise StoreError(f"no tracehouse store at {path} (start `tracehouse up --data {path.parent}` first)")
    if not read_only:
        _ensure_writable_dir(path.parent)
    con = duckdb.connect(":memory:", config={**_config(memory_limit, path), **(extra_config or {})})
    mode = "READ_ONLY" if read_only else "READ_WRITE"
    literal = str(path).replace("'", "''")  # ATTACH takes no bound parameters
    try:
        con.execute(f"ATTACH '{literal}' AS {CATALOG} ({mode}, ROW_GROUP_SIZE {int(row_group_size)})")
        use_store(con)
        _lock_down(con)
        _check_or_create_schema(con, path, read_only)
        if not read_only:
            con.execute(sql("links/schema"))  # additive, no version change (docs/reconstruction.md)
    except duckdb.IOException as exc:
        con.close()
        if "Could not set lock" in str(exc):  # DuckDB's message for a file another process holds
            raise StoreBusyError(f"the store at {path} is held by another process: {exc}") from exc
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    except duckdb.Error as exc:
        con.close()
        raise IncompatibleStoreError(f"{path} is not a store this version of tracehouse can read: {exc}") from exc
    except BaseException:
        con.close()
        raise
    return con


def _ensure_writable_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {directory}: {exc.strerror}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(f"the data directory {directory} is not writable ({errno.errorcode[errno.EACCES]})")


def _check_or_create_schema(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_name = 'tracehouse_meta'"
    ).fetchone()
    tables = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database()").fetchone()
    if has_meta and has_meta[0]:
        row = con.execute("SELECT value FROM tracehouse_meta WHERE key = 'schema_version'").fetchone()
        found = row[0] if row else "none"
        if found in UPGRADES and read_only:
            raise IncompatibleStoreError(
                f"{path} was written with store schema version {found}; start `tracehouse up --data "
                f"{path.parent}` once to upgrade it to version {SCHEMA_VERSION}. It was left untouched."
            )
        if found in UPGRADES:
            _upgrade(con, path, found)
            return
        if found != SCHEMA_VERSION:
            raise IncompatibleStoreError(
                f"{path} was written with store schema version {found}; this tracehouse uses version "
                f"{SCHEMA_VERSION}. It was left untouched: point --data at another directory, or "
                "export the data with the tracehouse version that wrote it."
            )
        return
    if tables and tables[0]:
        raise IncompatibleStoreError(f"{path} is a DuckDB database but not a tracehouse store; it was left untouched")
    if read_only:
        raise StoreError(f"{path} holds no tracehouse store yet")
    con.execute("BEGIN")
    con.execute(sql("schema"))
    con.execute("INSERT INTO tracehouse_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    con.execute("COMMIT")


def _upgrade(con: duckdb.DuckDBPyConnection, path: Path, found: str) -> None:
    """Bring a store of schema version `found` to SCHEMA_VERSION in one transaction (UPGRADES)."""
    log.warning("upgrading the store at %s from schema version %s to %s (once)", path, found, SCHEMA_VERSION)
    con.execute("BEGIN")
    try:
        con.execute(sql(UPGRADES[found]))
        con.execute("UPDATE tracehouse_meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
