-- The earliest start and latest end (ns) over the given traces, from the summary: lets a lookup by id
-- read only the row groups of that time band.
SELECT min(epoch_ns(start_time)), max(end_unix_nano)
FROM trace_summary_data
WHERE trace_id IN (SELECT unnest($trace_ids::BLOB[]));
