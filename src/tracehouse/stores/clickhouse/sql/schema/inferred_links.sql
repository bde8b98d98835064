-- Inferred links (store/links_contract.py): beside the spans, never in them. One row per version of
-- a parentless child span's link (the child's identity is the sorting key); the latest version
-- (ReplacingMergeTree by `version`) wins, and `deleted` = 1 is a tombstone: a rerun that no longer
-- links a child writes one. A rerun's tombstones and new links go in one INSERT, so readers see the
-- range's old set or its new one. Reads dedup with FINAL and filter tombstones outside it (a filter
-- moved to PREWHERE would run before the dedup). On a cluster, sharded by the child's trace.
CREATE TABLE IF NOT EXISTS {links_local} {on_cluster} (
    child_trace_id             FixedString(16),
    child_span_id              FixedString(8),
    child_start_time_unix_nano Int64,
    parent_trace_id            FixedString(16),
    parent_span_id             FixedString(8),
    confidence                 Float64,
    method                     String,
    child_service              String,
    parent_service             String,
    deleted                    UInt8,
    version                    UInt64
) ENGINE = {links_engine}
PARTITION BY toDate(intDiv(child_start_time_unix_nano, 1000000000))
ORDER BY (child_trace_id, child_span_id, child_start_time_unix_nano)
