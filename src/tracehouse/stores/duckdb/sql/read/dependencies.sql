-- Calls between services among spans that started in $start..$end (ns): a span of `child` whose
-- parent span is in another service. Error rate and p95 are of the child (callee) span.
SELECT
    p.service_name                                  AS parent,
    c.service_name                                  AS child,
    count(*)                                        AS call_count,
    count(*) FILTER (WHERE c.status_code = 'ERROR') AS error_count,
    CAST(quantile_cont(c.duration_ns, 0.95) AS BIGINT) AS p95_duration_ns
FROM span_data c
JOIN span_data p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
WHERE c.start_time >= make_timestamp_ns($start)
  AND c.start_time < make_timestamp_ns($end)
  AND c.parent_span_id IS NOT NULL
  AND p.service_name <> c.service_name
GROUP BY p.service_name, c.service_name
ORDER BY parent, child;
