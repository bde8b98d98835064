-- Tail sampling (docs/sampling.md, ADR 20): spans waiting for their trace's decision, exactly as
-- decoded (model.SPAN_BATCH_SCHEMA, resources inline), with when they arrived and `hold_id`, the
-- random id of the hold_spans call that brought them. Append-only: a decided trace's rows are
-- released by rows of sampling_released_local (an anti-join on (trace_id, hold_id) hides them from
-- every read at once), and deleted later in bulk by a periodic cleanup below a watermark, never by
-- a mutation per decision. On a cluster, sharded by trace id like the spans: a trace's held spans
-- meet on one shard.
CREATE TABLE IF NOT EXISTS {held_local} {on_cluster} (
    trace_id             FixedString(16),
    span_id              FixedString(8),
    parent_span_id       Nullable(FixedString(8)),
    trace_state          Nullable(String),
    service_name         String,
    span_name            String,
    span_kind            UInt8,
    start_time_unix_nano Int64,
    end_time_unix_nano   Int64,
    status_code          UInt8,
    status_message       Nullable(String),
    attributes           Nullable(String),
    resource_attributes  Nullable(String),
    events               Nullable(String),
    links                Nullable(String),
    scope_name           Nullable(String),
    scope_version        Nullable(String),
    flags                Nullable(Int64),
    scope_attributes     Nullable(String),
    scope_schema_url     Nullable(String),
    resource_schema_url  Nullable(String),
    received_unix_nano   Int64,
    hold_id              UInt64
) ENGINE = {held_engine}
PARTITION BY toDate(intDiv(received_unix_nano, 1000000000))
ORDER BY (trace_id, hold_id)
