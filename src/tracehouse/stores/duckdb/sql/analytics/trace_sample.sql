-- The spans of up to $max_traces selected traces (appended to _selection.sql). Taking the lowest
-- trace hashes gives a fixed pseudo-random sample: the same traces every time, whoever asks.
, sample AS (
    SELECT t FROM selected ORDER BY t LIMIT $max_traces
)
SELECT
    lower(hex(trace_id))          AS trace_id,
    lower(hex(span_id))           AS span_id,
    lower(hex(parent_span_id))    AS parent_span_id,
    service_name,
    span_name,
    span_kind,
    s                             AS start_time_unix_nano,
    d                             AS duration_ns,
    failed                        AS error
FROM window_spans
WHERE t IN (SELECT t FROM sample)
ORDER BY trace_id, s, span_id
