"""The Native columns a span batch (model.SPAN_BATCH_SCHEMA) shares between the span table
(sql/schema/span_data.sql) and tail sampling's hold (sql/schema/sampling_held_span.sql).

The two tables differ only in how they keep a span's end (a duration, or the end time), whether
attributes are stored as `'{}'` or NULL when absent, and the hold's own columns: callers add those,
and pass the attribute columns in as they built them. One list, so a column added to the span model
cannot reach one table and be silently missing from the other.
"""

from __future__ import annotations

import pyarrow as pa

from tracehouse.stores.clickhouse import native


def span_key_columns(batch: pa.Table) -> list[native.NativeColumn]:
    """trace_id to span_kind: who the span is, in both tables' column order."""
    col = batch.column
    return [
        native.fixed_string_column("trace_id", col("trace_id"), 16, nullable=False),
        native.fixed_string_column("span_id", col("span_id"), 8, nullable=False),
        native.fixed_string_column("parent_span_id", col("parent_span_id"), 8, nullable=True),
        native.string_column("trace_state", col("trace_state"), nullable=True),
        native.string_column("service_name", col("service_name"), nullable=False),
        native.string_column("span_name", col("span_name"), nullable=False),
        native.number_column("span_kind", col("span_kind"), "UInt8"),
    ]


def span_detail_columns(batch: pa.Table, attributes: native.NativeColumn,
                        resource_attributes: native.NativeColumn) -> list[native.NativeColumn]:
    """status_message to resource_schema_url, with the caller's attribute columns in their place."""
    col = batch.column
    return [
        native.string_column("status_message", col("status_message"), nullable=True),
        attributes,
        resource_attributes,
        native.string_column("events", col("events"), nullable=True),
        native.string_column("links", col("links"), nullable=True),
        native.string_column("scope_name", col("scope_name"), nullable=True),
        native.string_column("scope_version", col("scope_version"), nullable=True),
        native.nullable_number_column("flags", col("flags"), "Int64"),
        native.string_column("scope_attributes", col("scope_attributes"), nullable=True),
        native.string_column("scope_schema_url", col("scope_schema_url"), nullable=True),
        native.string_column("resource_schema_url", col("resource_schema_url"), nullable=True),
    ]
