-- Call spans (SERVER, CLIENT, PRODUCER, CONSUMER) that started in [$start, $end) ns, for reconstruction.
SELECT
    lower(hex(trace_id))        AS trace_id,
    lower(hex(span_id))         AS span_id,
    lower(hex(parent_span_id))  AS parent_span_id,
    service_name,
    span_name,
    span_kind::VARCHAR          AS span_kind,
    epoch_ns(start_time)        AS start_time_unix_nano,
    epoch_ns(start_time) + duration_ns AS end_time_unix_nano,
    attributes::JSON::VARCHAR   AS attributes
FROM span_data
WHERE start_time >= make_timestamp_ns($start) AND start_time < make_timestamp_ns($end)
  AND span_kind IN ('SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER')
ORDER BY start_time;
