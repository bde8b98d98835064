-- Attribute contrast: the span and resource attributes (JSON text) of the sampled traces' spans in
-- the window; the store unnests them in Python (18.16 cannot list a JSON object's keys).
SELECT lower(hex(trace_id)) AS trace_hex, attributes, resource_attributes
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  AND trace_id IN {trace_ids}
