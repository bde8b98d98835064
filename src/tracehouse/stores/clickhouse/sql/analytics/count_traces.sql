-- How many traces the filter selects (each lives on one shard, so the shards' counts add up).
SELECT count() FROM (
    SELECT DISTINCT trace_id
    FROM {span_data}
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      AND trace_id IN (
-- include: analytics/_selected_traces
      )
)
