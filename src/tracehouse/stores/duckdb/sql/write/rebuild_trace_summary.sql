-- Summarise every stored span into an EMPTY trace_summary_data in one pass: for a store whose spans
-- were loaded in bulk (the benchmark) or written before the summary existed.
INSERT INTO trace_summary_data
WITH to_summarise AS (
    SELECT trace_id, parent_span_id, service_name, span_name, epoch_ns(start_time) AS start_ns,
           epoch_ns(start_time) + duration_ns AS end_ns, status_code = 'ERROR' AS failed
    FROM span_data
),
-- include: write/_summaries_of
SELECT
    trace_id, make_timestamp_ns(start_ns), end_ns, end_ns - start_ns, span_count, error_count,
    root_is_missing, root_start, root_service, root_span_name, services
FROM summaries
ORDER BY start_ns;
