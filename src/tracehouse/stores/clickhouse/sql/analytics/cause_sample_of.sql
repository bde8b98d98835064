-- cause_sample's spans (trace_sample_of.sql's, with the span's and its resource's attributes as
-- JSON text) of a sample of the selected traces (_sample_ids.sql), read by primary key, without FINAL (it cost
-- 1.2 s instead of 0.23 s for 2,500 traces at 1M): the store keeps the first row of each span key.
SELECT
-- include: analytics/_sample_columns
    , attributes
    , resource_attributes
FROM {span_data}
PREWHERE trace_id GLOBAL IN (
-- include: analytics/_sample_ids
)
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
ORDER BY trace_id, start_time_unix_nano, span_id
