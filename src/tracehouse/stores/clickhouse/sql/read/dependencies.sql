-- Calls between services among spans that started in the window (ns): a span of `child` whose
-- parent span is in another service (schema/service_calls.sql), each counted once. The whole hours
-- come from their summaries (the (hour, version) of each valid one, schema/dependency_hours.sql),
-- the rest (the window's partial hours, and hours without a valid summary) from the calls
-- with FINAL (read/_calls_between.sql: one primary-key range each); durations merge into one exact p95. Error count and p95 are of the child (callee).
SELECT
    parent_service                                   AS parent,
    service_name                                     AS child,
    sum(calls)                                       AS call_count,
    sum(errors)                                      AS error_count,
    toInt64(quantileExactMerge(0.95)(durations))     AS p95_duration_ns
FROM (
    SELECT parent_service, service_name, calls, errors, durations
    FROM {hours}
    WHERE (hour, version) IN {versions} AND parent_service != ''
    UNION ALL
    SELECT parent_service, service_name, count() AS calls, countIf(status_code = 2) AS errors,
           quantileExactState(0.95)(duration_ns) AS durations
    FROM {calls} FINAL
    WHERE {direct}
    GROUP BY parent_service, service_name
) AS parts
GROUP BY parent_service, service_name
ORDER BY parent, child
