"""Users' SQL: one read-only statement, a time limit, a row cap, and no way out of the store.

Defence in depth: (1) only a single SELECT/EXPLAIN statement is accepted, by DuckDB's own parser,
and its parse tree may hold only query nodes (a data-modifying CTE, `WITH x AS (DELETE ... RETURNING
*) SELECT ...`, parses as a SELECT; EXPLAIN ANALYZE runs its statement);
(2) the database instance has external access, extensions and configuration changes disabled
(connection.py), so table functions such as read_csv or read_text fail even inside a SELECT;
(3) the statement runs in a transaction that is always rolled back;
(4) functions that act on the database or reach its file (`checkpoint()`, `read_blob` of the store
file itself, where data removed by retention may remain) are refused by name, and functions that
build one huge value in a single step (`range(1e9)` as a list, `repeat('x', 2e9)`) are refused when
their constant arguments ask for more than MAX_GENERATED: a clear answer at once.
What this module cannot tell from the text (sizes that depend on the data, joins, aggregates) is
bounded by where the statement runs: a worker process with its own DuckDB instance, a hard memory
cap and a kill at the time limit (sql_workers.py, ADR 19).
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


# Refused by name wherever they appear: what they do is not a read of the store's tables.
_REFUSED_FUNCTIONS = {
    "checkpoint": "it writes the store file", "force_checkpoint": "it writes the store file",
    "read_blob": "it reads files", "read_text": "it reads files", "glob": "it lists files",
}
# Functions that build one value of a size their arguments choose. Their size arguments must be
# constants, and the value they build at most this many elements (range, list_resize) or bytes.
MAX_GENERATED = 1_000_000
_GENERATORS = {"range", "generate_series", "list_resize", "array_resize", "repeat", "lpad", "rpad"}


def _constant(expression: object) -> tuple[str, str] | None:
    """(kind, text) of a literal argument (INTEGER, DECIMAL, STRING, ...), else None."""
    if not isinstance(expression, dict) or expression.get("class") != "CONSTANT":
        return None
    literal = expression.get("literal")
    if isinstance(literal, dict):
        return str(literal.get("kind", "")), str(literal.get("text", ""))
    value = expression.get("value")
    if isinstance(value, dict) and not value.get("is_null"):
        return str(value.get("type", {}).get("id", "")), str(value.get("value", ""))
    return None


def _generated_size(name: str, args: list[tuple[str, str] | None]) -> int | None:
    """How large a value the call builds, from its constant arguments; None if it cannot be told."""
    try:
        if name in ("range", "generate_series"):
            numbers = [float(a[1]) for a in args if a is not None]
            if len(numbers) != len(args) or not numbers:
                return None
            start, stop, step = (0.0, numbers[0], 1.0) if len(numbers) == 1 else (
                numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 1.0)
            return 0 if step == 0 else max(0, int((stop - start) / step) + 1)
        if name in ("list_resize", "array_resize", "lpad", "rpad"):
            size = args[1] if len(args) > 1 else None
            return None if size is None else int(float(size[1]))
        if name == "repeat":
            if len(args) != 2 or args[0] is None or args[1] is None:
                return None
            return len(args[0][1].encode()) * max(0, int(float(args[1][1])))
    except ValueError:
        return None
    return None


def _check_functions(tree: object) -> None:
    """Refuse calls of _REFUSED_FUNCTIONS, and _GENERATORS whose constant arguments ask for more than
    MAX_GENERATED at once: a clear answer before anything runs. Sizes that depend on the data
    (`range(x * x)`) cannot be told here; the worker's memory cap and time limit bound them (ADR 19).
    Table functions (`FROM range(10)`) stream their rows: only their names are checked."""
    stack: list[tuple[object, bool]] = [(tree, False)]
    while stack:
        node, in_from = stack.pop()
        if isinstance(node, list):
            stack.extend((item, False) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("type") == "TABLE_FUNCTION":
            for key, value in node.items():
                stack.append((value, key == "function"))
            continue
        name = node.get("function_name")
        if node.get("class") == "FUNCTION" and isinstance(name, str):
            name = name.lower()
            if name in _REFUSED_FUNCTIONS:
                raise SqlRefusedError(f"read-only SQL: {name}() refused ({_REFUSED_FUNCTIONS[name]})")
            if name in _GENERATORS and not in_from:
                arguments = node.get("arguments") or node.get("children") or []
                args = [_constant(a.get("expression") if isinstance(a, dict) and "expression" in a else a)
                        for a in arguments]
                size = _generated_size(name, args)
                if size is not None and size > MAX_GENERATED:
                    raise SqlRefusedError(
                        f"read-only SQL: {name}() refused: as a value it would build {size:,} elements or "
                        f"bytes in one step, more than {MAX_GENERATED:,} (`FROM range(n)` streams rows "
                        "instead)")
        stack.extend((value, False) for value in node.values())


def _check_query_tree(con: duckdb.DuckDBPyConnection, text: str) -> None:
    row = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise SqlRefusedError(f"read-only SQL: only plain queries are allowed ({tree.get('error_message', '')})")
    _check_functions(tree)
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
