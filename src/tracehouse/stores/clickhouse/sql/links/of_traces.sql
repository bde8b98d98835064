-- The live links whose child or parent lies in one of {trace_ids}. The dedup (FINAL) runs on every
-- version of the candidates' keys before the filters on non-key columns, which would otherwise
-- let an older version through when the newest no longer matches.
SELECT
    lower(hex(child_trace_id)), lower(hex(child_span_id)), child_start_time_unix_nano,
    lower(hex(parent_trace_id)), lower(hex(parent_span_id)), confidence, method, child_service, parent_service
FROM (
    SELECT *
    FROM {links} FINAL
    WHERE (child_trace_id, child_span_id, child_start_time_unix_nano) IN (
        SELECT child_trace_id, child_span_id, child_start_time_unix_nano FROM {links_local}
        WHERE child_trace_id IN {trace_ids} OR parent_trace_id IN {trace_ids})
) AS latest
WHERE deleted = 0 AND (child_trace_id IN {trace_ids} OR parent_trace_id IN {trace_ids})
ORDER BY child_start_time_unix_nano, child_trace_id, child_span_id
SETTINGS optimize_move_to_prewhere = 0
