-- The spans of up to $max_traces selected traces with what doctor needs to place a cause (appended
-- to _selection.sql): span kind, status, and the span's and its resource's attributes as JSON text.
-- The sample is the lowest trace hashes, as in trace_sample.sql: the same traces every time.
, sample AS (
    SELECT t FROM selected ORDER BY t LIMIT $max_traces
)
SELECT
    lower(hex(w.trace_id))        AS trace_id,
    lower(hex(w.span_id))         AS span_id,
    lower(hex(w.parent_span_id))  AS parent_span_id,
    w.service_name,
    w.span_name,
    w.span_kind,
    w.s                           AS start_time_unix_nano,
    w.d                           AS duration_ns,
    w.failed                      AS error,
    w.attributes::JSON::VARCHAR   AS attributes,
    r.attributes::JSON::VARCHAR   AS resource_attributes
FROM window_spans w
LEFT JOIN resource_data r USING (resource_id)
WHERE w.t IN (SELECT t FROM sample)
ORDER BY trace_id, start_time_unix_nano, span_id
