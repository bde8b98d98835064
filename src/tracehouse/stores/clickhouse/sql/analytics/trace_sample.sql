-- The window's spans of up to {max_traces} selected traces: those with the lowest cityHash64 of
-- their id, a fixed pseudo-random sample (the same traces every time, whoever asks). The sample is
-- chosen across the cluster (GLOBAL IN: the ids are gathered once and sent to every shard).
SELECT
    lower(hex(trace_id))          AS trace_hex,
    lower(hex(span_id))           AS span_hex,
    lower(hex(parent_span_id))    AS parent_hex,
    service_name,
    span_name,
    span_kind,
    start_time_unix_nano,
    duration_ns,
    status_code = 2               AS error
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  AND trace_id GLOBAL IN (
    SELECT trace_id FROM (
        SELECT DISTINCT trace_id
        FROM {span_data}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          AND trace_id IN (
-- include: analytics/_selected_traces
          )
    ) AS selected
    ORDER BY cityHash64(trace_id), trace_id
    LIMIT {max_traces}
  )
ORDER BY trace_id, start_time_unix_nano, span_id
