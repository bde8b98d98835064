"""The DuckDB store."""

from tracehouse.stores.duckdb.sql_files import sql
from tracehouse.stores.duckdb.store import DuckDBStore


def duckdb_schema_sql() -> str:
    """The embedded store's schema (sql/schema.sql), for `tracehouse schema --print`."""
    return sql("schema").strip()


__all__ = ["DuckDBStore", "duckdb_schema_sql"]
