-- For Jaeger's v3 trace summaries: per trace and service, the spans and error spans; per trace, the
-- spans whose parent span is not stored in the trace (orphans). Over the traces whose raw ids are in
-- $trace_ids, reading only spans that started in $min_start..$max_start (ns), the band their
-- summaries span, so zone maps skip the other row groups.
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, service_name, status_code
    FROM span_data
    WHERE start_time BETWEEN make_timestamp_ns($min_start) AND make_timestamp_ns($max_start)
      AND trace_id IN (SELECT unnest($trace_ids::BLOB[]))
),
orphans AS (
    SELECT c.trace_id, count(*) AS n
    FROM s c
    ANTI JOIN s p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.parent_span_id IS NOT NULL
    GROUP BY c.trace_id
)
SELECT
    lower(hex(s.trace_id))                          AS trace_id,
    s.service_name,
    count(*)                                        AS spans,
    count(*) FILTER (WHERE s.status_code = 'ERROR') AS error_spans,
    coalesce(any_value(o.n), 0)                     AS orphans
FROM s
LEFT JOIN orphans o ON o.trace_id = s.trace_id
GROUP BY s.trace_id, s.service_name
ORDER BY trace_id, s.service_name;
