"""Users' SQL: one read-only statement, a time limit, a row cap, and no way out of the store.

Defence in depth: (1) only a single SELECT/EXPLAIN statement is accepted, by DuckDB's own parser,
and its parse tree may hold only query nodes (a data-modifying CTE, `WITH x AS (DELETE ... RETURNING
*) SELECT ...`, parses as a SELECT; EXPLAIN ANALYZE runs its statement);
(2) the database instance has external access, extensions and configuration changes disabled
(connection.py), so table functions such as read_csv or read_text fail even inside a SELECT;
(3) the statement runs in a transaction that is always rolled back.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Sequence

import duckdb

from tracehouse.model import SqlResult
from tracehouse.store import SqlRefusedError, SqlTimeoutError, StoreError

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_REFUSAL_HINTS = {
    duckdb.StatementType.COPY: "COPY reads or writes files",
    duckdb.StatementType.ATTACH: "ATTACH opens other databases",
    duckdb.StatementType.LOAD: "extensions cannot be installed or loaded",
    duckdb.StatementType.SET: "settings cannot be changed",
    duckdb.StatementType.VARIABLE_SET: "settings cannot be changed",
    duckdb.StatementType.PRAGMA: "PRAGMA statements cannot be run",
}


# Parse-tree nodes of pure queries; anything else (DELETE_QUERY_NODE, INSERT_QUERY_NODE, ...) writes.
_QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
_EXPLAIN = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*explain\s+(analy[sz]e\b)?", re.I | re.S)


def _node_types(tree: object) -> set[str]:
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE"):
                found.add(kind)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _check_query_tree(con: duckdb.DuckDBPyConnection, text: str) -> None:
    row = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise SqlRefusedError(f"read-only SQL: only plain queries are allowed ({tree.get('error_message', '')})")
    writes = _node_types(tree) - _QUERY_NODES
    if writes:
        kinds = ", ".join(sorted(k.removesuffix("_QUERY_NODE").removesuffix("_NODE") for k in writes))
        raise SqlRefusedError(f"read-only SQL: {kinds} inside a query refused; the store is unchanged")


def check_statement(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Refuse anything but exactly one SELECT-like statement, before anything runs."""
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise SqlRefusedError(f"the query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise SqlRefusedError(f"one statement at a time, please (found {len(statements)})")
    kind = statements[0].type
    if kind not in _ALLOWED:
        hint = _REFUSAL_HINTS.get(kind, "only SELECT queries are allowed")
        name = str(kind).rsplit(".", 1)[-1]
        raise SqlRefusedError(f"read-only SQL: {name} refused ({hint}); the store is unchanged")
    query = statements[0].query
    if kind == duckdb.StatementType.EXPLAIN:
        explain = _EXPLAIN.match(query)
        if explain is None or explain.group(1):
            raise SqlRefusedError("read-only SQL: EXPLAIN ANALYZE refused (it runs its statement); use EXPLAIN")
        query = query[explain.end():]
    _check_query_tree(con, query)


def run_user_sql(cursor: duckdb.DuckDBPyConnection, text: str, max_rows: int, timeout_seconds: float,
                 params: Sequence[object] = ()) -> SqlResult:
    check_statement(cursor, text)
    started = time.perf_counter()
    timer = threading.Timer(timeout_seconds, cursor.interrupt)
    timer.daemon = True
    cursor.execute("BEGIN TRANSACTION")
    try:
        timer.start()
        result = cursor.execute(text, list(params) if params else None)
        columns = [d[0] for d in result.description] if result.description else []
        types = [str(d[1]) for d in result.description] if result.description else []
        rows = result.fetchmany(max_rows + 1)
    except duckdb.InterruptException as exc:
        raise SqlTimeoutError(_timeout_message(timeout_seconds)) from exc
    except duckdb.PermissionException as exc:
        raise SqlRefusedError(
            f"refused: files, the network and extensions are out of reach ({_first_line(exc)})") from exc
    except duckdb.Error as exc:
        if "interrupted" in str(exc).lower():
            raise SqlTimeoutError(_timeout_message(timeout_seconds)) from exc
        raise StoreError(_first_line(exc)) from exc
    finally:
        timer.cancel()
        with contextlib.suppress(duckdb.Error):
            cursor.execute("ROLLBACK")
    truncated = len(rows) > max_rows
    return SqlResult(columns=columns, types=types, rows=[tuple(r) for r in rows[:max_rows]],
                     truncated=truncated, elapsed_ms=(time.perf_counter() - started) * 1000)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _timeout_message(seconds: float) -> str:
    return f"the query ran past its time limit of {seconds:g} s and was stopped"
