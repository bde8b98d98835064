-- How many distinct spans (trace_id, span_id, start time) the registered `batch` holds: when it is
-- its row count, nothing repeats and the batch is inserted as it is (the usual case).
SELECT count(*) FROM (
    SELECT 1 FROM batch GROUP BY trace_id, span_id, start_time_unix_nano
);
