-- One row per span, on the shard that cityHash64(trace_id) picks (see schema/span_data_distributed.sql).
-- Ordered by trace id: a trace's spans are one primary-key range, so a lookup by id reads a few
-- granules. The sorting key is the span's identity (trace_id, span_id, start time): Replacing-
-- MergeTree keeps one row per key when parts merge, and every read uses FINAL so a span re-sent
-- before a merge is still seen once. Partitions are UTC days of the start time: retention drops
-- whole days, and a time window prunes the other days (MergeTree's min/max index of the partition
-- key's column). Granules of 1024 rows rather than the default 8192: a trace by id reads one or two
-- granules per part, 8 times fewer rows with their attributes (the primary index stays small: one
-- entry per 1024 spans). Times are Int64 nanoseconds (18.16 has no DateTime64). Enumerations
-- are their OTLP numbers (views turn them into names); attribute maps, events and links are JSON.
CREATE TABLE IF NOT EXISTS {span_data_local} {on_cluster} (
    trace_id             FixedString(16),
    span_id              FixedString(8),
    parent_span_id       Nullable(FixedString(8)),
    trace_state          Nullable(String),
    service_name         String,
    span_name            String,
    span_kind            UInt8,
    start_time_unix_nano Int64,
    duration_ns          Int64,
    status_code          UInt8,
    status_message       Nullable(String),
    attributes           String,
    resource_attributes  String,
    events               Nullable(String),
    links                Nullable(String),
    scope_name           Nullable(String),
    scope_version        Nullable(String),
    flags                Nullable(Int64),
    scope_attributes     Nullable(String),
    scope_schema_url     Nullable(String),
    resource_schema_url  Nullable(String)
) ENGINE = {engine}
PARTITION BY toDate(intDiv(start_time_unix_nano, 1000000000))
ORDER BY (trace_id, span_id, start_time_unix_nano)
SETTINGS index_granularity = 1024
