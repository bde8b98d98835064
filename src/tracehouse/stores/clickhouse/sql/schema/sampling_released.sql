-- Which held rows are settled: one row per (trace, hold_spans call) whose spans a decision pass
-- read, decided and moved (or dropped). Readers of the held spans anti-join this table, so a
-- released trace is gone for them the moment this row is in, before any merge. A repeat (two
-- instances, or a retried pass) is the same key: ReplacingMergeTree keeps one. Deleted with the held
-- rows by the cleanup (below the same watermark of received_unix_nano).
CREATE TABLE IF NOT EXISTS {released_local} {on_cluster} (
    trace_id            FixedString(16),
    hold_id             UInt64,
    received_unix_nano  Int64,
    released_unix_nano  Int64
) ENGINE = {released_engine}
PARTITION BY toDate(intDiv(received_unix_nano, 1000000000))
ORDER BY (trace_id, hold_id)
