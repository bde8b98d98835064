-- FROM, WHERE and ORDER BY of the window's spans of up to {max_traces} selected traces: those with the lowest cityHash64 of
-- their id, a fixed pseudo-random sample (the same traces every time, whoever asks). The sample is
-- chosen across the cluster (GLOBAL IN: the ids are gathered once and sent to every shard).
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
