-- The children linked now (latest version not a tombstone) that started in [{start}, {end}): a
-- rerun over the range writes a tombstone for each that it no longer links.
SELECT lower(hex(child_trace_id)), lower(hex(child_span_id)), child_start_time_unix_nano
FROM (
    SELECT child_trace_id, child_span_id, child_start_time_unix_nano, deleted
    FROM {links} FINAL
    WHERE child_start_time_unix_nano >= {start} AND child_start_time_unix_nano < {end}
) AS latest
WHERE deleted = 0
SETTINGS optimize_move_to_prewhere = 0
