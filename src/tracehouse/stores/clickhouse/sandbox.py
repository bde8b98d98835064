"""Users' SQL on ClickHouse: one read-only query, bounded in time, rows and memory, that cannot reach
outside the store.

Two layers, so neither alone has to be perfect:
- Before anything runs, the text is tokenized (strings, quoted names and comments understood) and
  refused unless it is one SELECT (or WITH ... SELECT) with no table function, no SETTINGS or
  FORMAT clause, no INTO OUTFILE and no statement keyword that writes or administers.
- The query then runs with server-side settings: readonly=1 (no writes, no SET, and on 18.16 no
  table functions at all), max_execution_time, max_memory_usage, and max_result_rows = the cap + 1
  with result_overflow_mode=break: the server stops after the block that passes the cap, and the
  client keeps the first rows and flags truncation. (Not a wrapping `SELECT * FROM (...) LIMIT n`:
  18.16 does not keep the inner ORDER BY through it.)
`?` and `$n` placeholders are filled with quoted literals on the client (ClickHouse 18.16 has no
server-side parameters).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tracehouse.model import SqlResult
from tracehouse.store import SqlMemoryError, SqlRefusedError, SqlTimeoutError, StoreError
from tracehouse.stores.clickhouse.quoting import literal
from tracehouse.stores.clickhouse.results import parse
from tracehouse.stores.clickhouse.transport import ClickHouseError, ClickHouseUnavailable, Transport

_TIMEOUT_CODES = {159, 394}           # TIMEOUT_EXCEEDED, QUERY_WAS_CANCELLED
_READONLY_CODES = {164}               # READONLY
_MEMORY_CODES = {241}                 # MEMORY_LIMIT_EXCEEDED

# Words that begin or belong to statements other than a query, or clauses that change how a query
# runs or where its result goes. Refused anywhere outside strings and quoted names.
_REFUSED_WORDS = {
    "INSERT", "ALTER", "DROP", "CREATE", "ATTACH", "DETACH", "RENAME", "TRUNCATE", "OPTIMIZE",
    "KILL", "SET", "SETTINGS", "FORMAT", "OUTFILE", "INTO", "GRANT", "REVOKE", "USE", "EXCHANGE", "DELETE",
    "UPDATE", "WATCH", "BACKUP", "RESTORE", "UNDROP", "INFILE",
}
# Functions that read files, the network or other servers, also usable outside FROM on newer servers.
_OUTSIDE_FUNCTIONS = {
    "file", "url", "remote", "remotesecure", "cluster", "clusterallreplicas", "mysql", "postgresql",
    "jdbc", "odbc", "hdfs", "s3", "s3cluster", "gcs", "azureblobstorage", "input", "executable",
    "hudi", "deltalake", "iceberg", "mongodb", "redis", "sqlite", "urlcluster", "filecluster",
    "hdfscluster", "dictionary", "merge", "format", "fuzzjson", "generaterandom", "loop", "view",
    "viewifpermitted", "mergetreeindex", "icebergs3", "arrowflight", "ytsaurus", "values",
}

# The system tables a query may read: generators of rows. The others show the server's settings,
# users, other users' queries and the cluster's layout, which are not the store's data.
_SYSTEM_TABLES = {"numbers", "numbers_mt", "one", "zeros", "zeros_mt"}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>\d[\d.eExX+-]*)
  | (?P<param>\?|\$\d+)
  | (?P<semicolon>;)
  | (?P<lparen>\()
  | (?P<unterminated>['"`]|/\*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int = 0     # where it is in the statement's text


def tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup in (None, "unterminated"):
            raise SqlRefusedError("refused: the query does not parse (an unterminated string, name or comment)")
        position = match.end()
        if match.lastgroup in ("space", "comment"):
            continue
        out.append(_Token(match.lastgroup, match.group(), match.start()))
    return out


def check_statement(text: str) -> list[_Token]:
    """Refuse anything but one plain query, before anything runs; returns its tokens."""
    toks = tokens(text)
    while toks and toks[-1].kind == "semicolon":
        toks.pop()
    if not toks:
        raise SqlRefusedError("refused: an empty query; write one SELECT statement")
    if any(t.kind == "semicolon" for t in toks):
        raise SqlRefusedError("refused: one statement at a time, please")
    first = toks[0].text.upper()
    if first not in ("SELECT", "WITH") and not (toks[0].kind == "lparen"):
        raise SqlRefusedError(f"read-only SQL: {first} refused (only SELECT queries are allowed); "
                              "the store is unchanged")
    for i, tok in enumerate(toks):
        if tok.kind != "word":
            continue
        word = tok.text.upper()
        if word in _REFUSED_WORDS:
            raise SqlRefusedError(f"read-only SQL: {word} refused (only plain SELECT queries, without "
                                  "settings or output clauses); the store is unchanged")
        if (tok.text.lower() == "system" and i + 2 < len(toks) and toks[i + 1].text == "."
                and toks[i + 2].text.lower().strip("`\"") not in _SYSTEM_TABLES):
            raise SqlRefusedError("refused: system tables other than numbers and one are out of reach; "
                                  "query the spans, traces, edges, inferred_links and reconstructed_traces views")
        follows_call = i + 1 < len(toks) and toks[i + 1].kind == "lparen"
        if follows_call and tok.text.lower() in _OUTSIDE_FUNCTIONS:
            raise SqlRefusedError(f"refused: {tok.text}() reaches outside the store (files, the network "
                                  "and other servers are out of reach)")
        after_source = i > 0 and toks[i - 1].kind == "word" and toks[i - 1].text.upper() in ("FROM", "JOIN")
        if follows_call and after_source:
            raise SqlRefusedError(f"refused: table functions such as {tok.text}() are not allowed; "
                                  "query the spans, traces, edges, inferred_links and reconstructed_traces views")
    return toks


def bind(text: str, toks: list[_Token], params: Sequence[object]) -> str:
    """The statement with each placeholder replaced by its parameter as a quoted literal: `?` takes
    the next value, `$n` the n-th (as in DuckDB and PostgreSQL); one query uses one style."""
    marks = [t.text for t in toks if t.kind == "param"]
    numbered = [m for m in marks if m != "?"]
    if numbered and len(numbered) != len(marks):
        raise SqlRefusedError("use either ? or $1, $2, ... placeholders in one query, not both")
    if numbered:
        wanted = {int(m[1:]) for m in numbered}
        if min(wanted) < 1 or max(wanted) > len(params) or len(wanted) != len(params):
            raise SqlRefusedError(f"the query's placeholders {', '.join(sorted(set(numbered)))} do not match "
                                  f"the {len(params)} value(s) given")
    elif len(marks) != len(params):
        raise SqlRefusedError(f"the query has {len(marks)} ? placeholder(s) but {len(params)} value(s) were given")
    values = iter(params)
    out = []
    at = 0
    for t in toks:
        if t.kind == "param":
            out += [text[at:t.start], literal(next(values) if t.text == "?" else params[int(t.text[1:]) - 1])]
            at = t.start + len(t.text)
    out.append(text[at:])
    return "".join(out).strip().rstrip(";")


def run_user_sql(transport: Transport, database: str, text: str, max_rows: int, timeout_seconds: float,
                 params: Sequence[object] = (), max_memory_bytes: int = 128 * 10**6) -> SqlResult:
    toks = check_statement(text)
    query = bind(text, toks, params)
    settings: dict[str, str | int | float] = {
        "readonly": 1,
        # Whole seconds: 18.16 reads max_execution_time as an integer (0.3 would be 0: no limit).
        "max_execution_time": max(1, math.ceil(timeout_seconds)),
        "max_memory_usage": max_memory_bytes,
        "max_result_rows": int(max_rows) + 1,
        "result_overflow_mode": "break",
    }
    started = time.perf_counter()
    try:
        body = transport.query(query, "JSONCompact", settings, database=database)
    except ClickHouseUnavailable:
        raise
    except ClickHouseError as exc:
        if exc.code in _TIMEOUT_CODES:
            raise SqlTimeoutError(f"the query ran past its time limit of {timeout_seconds:g} s and was stopped") \
                from exc
        if exc.code in _READONLY_CODES:
            raise SqlRefusedError(f"read-only SQL: refused by the server ({exc})") from exc
        if exc.code in _MEMORY_CODES:
            raise SqlMemoryError(f"the query needs more memory than a console query may use ({exc})") from exc
        raise StoreError(str(exc)) from exc
    result = parse(body)
    truncated = len(result.rows) > max_rows
    return SqlResult(columns=result.columns, types=result.types,
                     rows=[tuple(r) for r in result.rows[:max_rows]], truncated=truncated,
                     elapsed_ms=(time.perf_counter() - started) * 1000)
