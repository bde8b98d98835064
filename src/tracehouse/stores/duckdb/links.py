"""InferredLinkStore on DuckDB: the inferred_link_data table and its views (sql/links/)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from tracehouse.store import CALL_SPAN_SCHEMA, INFERRED_LINK_SCHEMA, StoreError
from tracehouse.stores.duckdb.sql_files import sql


def create_links_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The additive table and views, at every writable open (IF NOT EXISTS / OR REPLACE)."""
    con.execute(sql("links/schema"))


def _has_table(cur: duckdb.DuckDBPyConnection) -> bool:
    rows = cur.execute(sql("links/exists")).fetchall()
    return bool(rows and rows[0][0])


def call_spans(cur: duckdb.DuckDBPyConnection, start_unix_nano: int, end_unix_nano: int) -> pa.Table:
    table = cur.sql(sql("links/call_spans"), params={"start": start_unix_nano, "end": end_unix_nano}).to_arrow_table()
    return table.cast(CALL_SPAN_SCHEMA)


def replace_links(cur: duckdb.DuckDBPyConnection, start_unix_nano: int, end_unix_nano: int, links: pa.Table) -> int:
    if links.num_rows:
        starts = links.column("child_start_time_unix_nano").to_pylist()
        if min(starts) < start_unix_nano or max(starts) >= end_unix_nano:
            raise StoreError("every inferred link's child must start inside the range it replaces")
    links = links.select(INFERRED_LINK_SCHEMA.names).cast(INFERRED_LINK_SCHEMA)
    cur.register("new_links", links)
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(sql("links/delete_range"), {"start": start_unix_nano, "end": end_unix_nano})
            cur.execute(sql("links/insert"))
            cur.execute("COMMIT")
        except duckdb.TransactionException as exc:
            cur.execute("ROLLBACK")
            raise StoreError(f"inferred links not written (a concurrent change, retry): {exc}") from exc
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    finally:
        cur.unregister("new_links")
    return int(links.num_rows)


def links_of_traces(cur: duckdb.DuckDBPyConnection, trace_ids: Sequence[bytes]) -> pa.Table:
    if not trace_ids or not _has_table(cur):
        return INFERRED_LINK_SCHEMA.empty_table()
    table = cur.sql(sql("links/of_traces"), params={"trace_ids": list(trace_ids)}).to_arrow_table()
    return table.cast(INFERRED_LINK_SCHEMA)


def link_stats(cur: duckdb.DuckDBPyConnection) -> tuple[int, float | None]:
    if not _has_table(cur):
        return 0, None
    rows = cur.execute(sql("links/stats")).fetchall()
    if not rows:
        return 0, None
    row = rows[0]
    return int(row[0]), (float(row[1]) if row[1] is not None else None)
