"""The store contract: what every store (DuckDB now, ClickHouse later) promises its callers."""

from tracehouse.store.contract import (
    IncompatibleStoreError,
    SqlRefusedError,
    SqlTimeoutError,
    SpanReader,
    SpanWriter,
    SqlRunner,
    Store,
    StoreError,
    WriteResult,
)

__all__ = [
    "IncompatibleStoreError",
    "SpanReader",
    "SpanWriter",
    "SqlRefusedError",
    "SqlRunner",
    "SqlTimeoutError",
    "Store",
    "StoreError",
    "WriteResult",
]
