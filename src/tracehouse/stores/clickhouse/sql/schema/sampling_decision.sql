-- One row per decided trace (duplicates, from several instances deciding the same trace, merge
-- away: ReplacingMergeTree by `kept`, so a kept row wins; reads group by trace and take max(kept)
-- and max(weight), correct before merges). Kept rows are the traces' sampling weights
-- (1 / probability) and stay; dropped rows are the decision cache for late spans and are deleted by
-- the cleanup after `decision_cache`. threshold: OpenTelemetry's `th` for the probability.
CREATE TABLE IF NOT EXISTS {decisions_local} {on_cluster} (
    trace_id          FixedString(16),
    kept              UInt8,
    probability       Float64,
    weight            Float64,
    threshold         String,
    policy            String,
    decided_unix_nano Int64
) ENGINE = {decisions_engine}
ORDER BY trace_id
