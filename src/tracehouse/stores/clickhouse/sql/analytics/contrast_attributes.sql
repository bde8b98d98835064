-- Attribute contrast: the span and resource attributes (JSON text) of the sampled traces' spans in
-- the window ({hex_ids}, read by primary key, the ids in PREWHERE as in trace_sample_of.sql); the
-- store unnests them in Python (18.16 cannot list a JSON object's keys). No FINAL: a trace carries
-- a value or not, so a span's unmerged copy changes no count.
SELECT lower(hex(trace_id)) AS trace_hex, attributes, resource_attributes
FROM {span_data}
PREWHERE trace_id IN (SELECT toFixedString(unhex(arrayJoin({hex_ids})), 16))
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
