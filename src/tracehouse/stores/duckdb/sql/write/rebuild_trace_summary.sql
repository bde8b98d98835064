-- Summarise every stored span into an EMPTY trace_summary_data in one pass: for a store whose spans
-- were loaded in bulk (the benchmark) or written before the summary existed.
INSERT INTO trace_summary_data
WITH per_service AS (
    SELECT trace_id, service_name, count(*) AS n
    FROM span_data
    GROUP BY trace_id, service_name
),
per_trace AS (
    SELECT
        trace_id,
        min(epoch_ns(start_time))                                          AS start_ns,
        max(epoch_ns(start_time) + duration_ns)                            AS end_ns,
        count(*)                                                           AS span_count,
        count(*) FILTER (WHERE status_code = 'ERROR')                      AS error_count,
        NOT bool_or(parent_span_id IS NULL)                                AS root_is_missing,
        arg_min(epoch_ns(start_time), (parent_span_id IS NOT NULL, start_time)) AS root_start,
        arg_min(service_name, (parent_span_id IS NOT NULL, start_time))    AS root_service,
        arg_min(span_name, (parent_span_id IS NOT NULL, start_time))       AS root_span_name
    FROM span_data
    GROUP BY trace_id
)
SELECT
    t.trace_id, make_timestamp_ns(t.start_ns), t.end_ns, t.end_ns - t.start_ns, t.span_count, t.error_count,
    t.root_is_missing, t.root_start, t.root_service, t.root_span_name, m.services
FROM per_trace t
JOIN (
    SELECT trace_id, map_from_entries(list({'key': service_name, 'value': n})) AS services
    FROM per_service
    GROUP BY trace_id
) m USING (trace_id)
ORDER BY t.start_ns;
