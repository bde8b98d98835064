-- trace_sample's columns for a sample from sample_slices.sql (see _sliced_spans.sql).
-- include: analytics/_sliced_spans
SELECT
    lower(hex(trace_id))          AS trace_id,
    lower(hex(span_id))           AS span_id,
    lower(hex(parent_span_id))    AS parent_span_id,
    service_name,
    span_name,
    span_kind::VARCHAR            AS span_kind,
    epoch_ns(start_time)          AS start_time_unix_nano,
    duration_ns,
    status_code = 'ERROR'         AS error
FROM sliced_spans
ORDER BY trace_id, start_time_unix_nano, span_id
