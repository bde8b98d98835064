-- Which spans of a batch about to be written are stored already: the batch's traces (ids listed),
-- within the batch's start-time range (a span's identity includes its start time). Rows repeated
-- before a merge are harmless here, so no FINAL. The ids come as an array of hex strings: parsed as
-- one literal, far faster than a tuple of unhex() calls.
SELECT lower(hex(trace_id)), lower(hex(span_id)), start_time_unix_nano
FROM {span_data}
WHERE start_time_unix_nano >= {min_start} AND start_time_unix_nano <= {max_start}
  AND
-- include: write/_traces_in
