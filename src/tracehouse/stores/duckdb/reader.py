"""Reads for the query service: SpanReader on DuckDB. Every statement is a .sql file with bound values."""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from tracehouse.model import SPAN_ROW_SCHEMA, DependencyLink, Operation, TraceQuery, TraceSummary
from tracehouse.stores.duckdb.sql_files import sql

_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def trace_id_bytes(hex_id: str) -> bytes | None:
    """A hex trace id (any case, leading zeros optional) as the 16 stored bytes; None if malformed."""
    if not _HEX_ID.fullmatch(hex_id):
        return None
    return bytes.fromhex(hex_id.rjust(32, "0"))


class DuckDBReader:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def span_count(self) -> int:
        row = self._cursor.execute("SELECT count(*) FROM span_data").fetchone()
        return int(row[0]) if row else 0

    def get_spans(self, trace_ids: Sequence[str]) -> pa.Table:
        ids = [b for b in (trace_id_bytes(t) for t in trace_ids) if b is not None]
        if not ids:
            return SPAN_ROW_SCHEMA.empty_table()
        table = self._cursor.sql(sql("read/spans_of_traces"), params={"trace_ids": ids}).to_arrow_table()
        return table.cast(SPAN_ROW_SCHEMA)

    def services(self) -> list[str]:
        raise NotImplementedError

    def operations(self, service: str | None, span_kind: str | None = None) -> list[Operation]:
        raise NotImplementedError

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        raise NotImplementedError

    def dependencies(self, start_unix_nano: int, end_unix_nano: int) -> list[DependencyLink]:
        raise NotImplementedError
