-- The spans of the selected traces that start in [{from_ns}, {to_ns}) (one slice of an export; see
-- export_slices.sql), in model.SPAN_ROW_SCHEMA order, by start time.
SELECT
-- include: read/_span_row_columns
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  AND start_time_unix_nano >= {from_ns} AND start_time_unix_nano < {to_ns}
  {narrowing}
ORDER BY start_time_unix_nano, trace_id, span_id
