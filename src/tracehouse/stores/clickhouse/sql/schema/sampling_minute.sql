-- What each policy kept and dropped, per minute: one row per trace settled in a pass (late = 1
-- for late spans of a trace decided earlier: counted as spans, not again as a trace), keyed so that
-- the same settlement written twice (two instances, a retried pass) is one row (ReplacingMergeTree,
-- read with FINAL): `first_hold` is the smallest hold_id of the trace's rows the pass settled.
-- Minute reads are a primary-key range. Kept 7 days (the cleanup deletes older minutes).
CREATE TABLE IF NOT EXISTS {minutes_local} {on_cluster} (
    minute_unix_nano Int64,
    policy           String,
    trace_id         FixedString(16),
    first_hold       UInt64,
    late             UInt8,
    kept             UInt8,
    spans            Int64,
    approx_bytes     Int64,
    weight           Float64
) ENGINE = {minutes_engine}
PARTITION BY toDate(intDiv(minute_unix_nano, 1000000000))
ORDER BY (minute_unix_nano, policy, trace_id, first_hold, late)
