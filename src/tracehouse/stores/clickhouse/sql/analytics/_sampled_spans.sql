-- FROM, WHERE and ORDER BY of every selected trace's spans in the window (trace_sample and
-- cause_sample when the filter selects no more traces than asked for; larger windows are sampled
-- by the store and read by id: trace_sample_of.sql).
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  {narrowing}
ORDER BY trace_id, start_time_unix_nano, span_id
