-- The window's spans of the selected traces that have a call into {target_service} (of
-- {target_operation}; NULL = any) in the window: the origins analysis walks up from each call in
-- Python (origins.py), as 18.16 has no recursive queries. Per trace, so shard-local on a cluster.
-- Read in {parts} parts by trace-id hash (this is part {part}), so the client holds one at a time.
SELECT
    lower(hex(trace_id))          AS trace_hex,
    lower(hex(span_id))           AS span_hex,
    lower(hex(parent_span_id))    AS parent_hex,
    service_name,
    span_name,
    duration_ns,
    status_code = 2               AS error
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  AND cityHash64(trace_id) % {parts} = {part}
  AND trace_id IN (
-- include: analytics/_selected_traces
  )
  AND trace_id IN (
        SELECT trace_id FROM {span_data_local}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          AND service_name = {target_service}
          AND ({target_operation} IS NULL OR span_name = {target_operation})
  )
ORDER BY trace_id
