-- Delete the spans that started before $cutoff (ns), except, when $honour_pins, those of traces
-- pinned (retention_pin_data) until after $now. The size cap passes $honour_pins = false.
DELETE FROM span_data
WHERE start_time < make_timestamp_ns($cutoff)
  AND NOT ($honour_pins AND trace_id IN (
      SELECT trace_id FROM retention_pin_data
      WHERE keep_until_unix_nano IS NULL OR keep_until_unix_nano > $now));
