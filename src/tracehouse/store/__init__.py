"""The store contract: what every store (DuckDB now, ClickHouse later) promises its callers."""

from tracehouse.store.analytics_contract import (
    AnalysisFilter,
    AnalyticsReader,
    CatalogColumn,
    CatalogTable,
    ExampleQuery,
    Selection,
    SqlCatalog,
)
from tracehouse.store.contract import (
    IncompatibleStoreError,
    SpanReader,
    SpanWriter,
    SqlMemoryError,
    SqlRefusedError,
    SqlRunner,
    SqlTimeoutError,
    Store,
    StoreBusyError,
    StoreError,
    StoreUnavailableError,
    WriteResult,
)
from tracehouse.store.links_contract import CALL_SPAN_SCHEMA, INFERRED_LINK_SCHEMA, InferredLinkStore
from tracehouse.store.sampling_contract import DecidedTrace, PolicyMinute, PriorDecision, SamplingStore
from tracehouse.store.trace_ids import trace_id_bytes, trace_id_list

__all__ = [
    "CALL_SPAN_SCHEMA",
    "INFERRED_LINK_SCHEMA",
    "AnalysisFilter",
    "AnalyticsReader",
    "CatalogColumn",
    "CatalogTable",
    "DecidedTrace",
    "ExampleQuery",
    "IncompatibleStoreError",
    "InferredLinkStore",
    "PolicyMinute",
    "PriorDecision",
    "SamplingStore",
    "Selection",
    "SpanReader",
    "SpanWriter",
    "SqlCatalog",
    "SqlMemoryError",
    "SqlRefusedError",
    "SqlRunner",
    "SqlTimeoutError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StoreUnavailableError",
    "WriteResult",
    "trace_id_bytes",
    "trace_id_list",
]
