-- Traces stored that started in [$start, $end), oldest first (for `tracehouse sampling simulate`).
SELECT trace_id FROM trace_summary_data
WHERE start_time >= make_timestamp_ns($start) AND start_time < make_timestamp_ns($end)
ORDER BY start_time;
