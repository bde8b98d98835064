-- cause_sample's columns for a sample from sample_slices.sql (see _sliced_spans.sql). Resource
-- attributes are turned into JSON once per resource, not once per span.
-- include: analytics/_sliced_spans
, resources AS (
    SELECT resource_id, attributes::JSON::VARCHAR AS resource_attributes FROM resource_data
)
SELECT
    lower(hex(w.trace_id))        AS trace_id,
    lower(hex(w.span_id))         AS span_id,
    lower(hex(w.parent_span_id))  AS parent_span_id,
    w.service_name,
    w.span_name,
    w.span_kind::VARCHAR          AS span_kind,
    epoch_ns(w.start_time)        AS start_time_unix_nano,
    w.duration_ns,
    w.status_code = 'ERROR'       AS error,
    w.attributes::JSON::VARCHAR   AS attributes,
    r.resource_attributes
FROM sliced_spans w
LEFT JOIN resources r USING (resource_id)
ORDER BY trace_id, start_time_unix_nano, span_id
