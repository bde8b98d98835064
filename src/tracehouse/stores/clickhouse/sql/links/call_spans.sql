-- The call spans (kinds SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5) that started in [{start}, {end}),
-- for reconstruction, in start order. Attributes are the stored JSON text.
SELECT
    lower(hex(trace_id))                        AS trace_hex,
    lower(hex(span_id))                         AS span_hex,
    lower(hex(parent_span_id))                  AS parent_hex,
    service_name,
    span_name,
    span_kind,
    start_time_unix_nano,
    start_time_unix_nano + duration_ns          AS end_time_unix_nano,
    attributes
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
  AND span_kind IN (2, 3, 4, 5)
ORDER BY start_time_unix_nano, trace_id, span_id
