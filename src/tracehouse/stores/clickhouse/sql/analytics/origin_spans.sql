-- The window's spans of the selected traces that have a call into {target_service} (of
-- {target_operation}; NULL = any) in the window (found in this shard's search index): the origins
-- analysis walks up from each call in Python (origins.py), as 18.16 has no recursive queries.
-- {sample_below}: only traces whose cityHash64 is below it (a fixed pseudo-random sample of about
-- the traces asked for, as the embedded store samples), or every trace when it is 2^64 - 1; the
-- sample's spans are then a primary-key read by trace id. Per trace, so shard-local on a cluster.
-- Without FINAL (a re-sent span's copies are dropped by the store, by span key with the start time);
-- the ids in PREWHERE, as in trace_sample_of.sql.
SELECT
    lower(hex(trace_id))          AS trace_hex,
    lower(hex(span_id))           AS span_hex,
    lower(hex(parent_span_id))    AS parent_hex,
    service_name,
    span_name,
    duration_ns,
    status_code = 2               AS error,
    start_time_unix_nano
FROM {span_data}
PREWHERE trace_id IN (
        SELECT trace_id FROM {index_local}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          AND service_name = {target_service}
          AND ({target_operation} IS NULL OR span_name = {target_operation})
          AND cityHash64(trace_id) <= {sample_below}
  )
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  {narrowing}
ORDER BY trace_id
