-- The service map's calls, kept at write time (write/service_calls.sql): one row per span whose
-- parent span is stored in another service, with the child's start, duration and status. A
-- dependencies read then aggregates this table over its window instead of joining every span of
-- the window to its parent. The row's identity is the child span's (trace_id, span_id, start):
-- a call derived again (a re-sent batch, a replay, a parent arriving after its children, two
-- instances deriving the same trace) replaces the earlier row when parts merge, and reads use
-- FINAL, so each call counts once before any merge. Partitions are UTC days of the child's start,
-- as for the spans; retention deletes a call with its child or its parent span (the parent's start
-- is kept for that), so the map stays the one a join of the remaining spans would draw. The key
-- starts with the child's hour, so one hour's calls are one primary-key range (FINAL reads only
-- those), and `derived_at` (when the row was written, ns) lets a reader tell whether an hour
-- changed since it summarised it (schema/dependency_hours.sql).
CREATE TABLE IF NOT EXISTS {calls_local} {on_cluster} (
    trace_id             FixedString(16),
    span_id              FixedString(8),
    start_time_unix_nano Int64,
    parent_service       String,
    parent_start_time_unix_nano Int64,
    service_name         String,
    duration_ns          Int64,
    status_code          UInt8,
    derived_at           UInt64
) ENGINE = {calls_engine}
PARTITION BY toDate(intDiv(start_time_unix_nano, 1000000000))
ORDER BY (intDiv(start_time_unix_nano, {bucket_ns}), trace_id, span_id, start_time_unix_nano)
