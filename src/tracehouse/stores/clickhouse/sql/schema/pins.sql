-- Traces kept out of retention (pin_traces, for `tracehouse import`): one row per pin, the latest
-- (by pinned_at) replacing earlier ones. keep_until_unix_nano is the end of the pin, or the largest
-- Int64 for "until deleted by other means". On a cluster each shard keeps the pins of its own
-- traces (sharded by cityHash64(trace_id), like the spans), so retention's delete on a shard reads
-- the pins next to it.
CREATE TABLE IF NOT EXISTS {pins_local} {on_cluster} (
    trace_id             FixedString(16),
    keep_until_unix_nano Int64,
    pinned_at            UInt64
) ENGINE = {pins_engine}
ORDER BY trace_id
