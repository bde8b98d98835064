"""The DuckDB store."""

from tracehouse.stores.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
