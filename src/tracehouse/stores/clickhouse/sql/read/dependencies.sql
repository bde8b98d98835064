-- Calls between services among spans that started in {start}..{end} (ns): a span of `child` whose
-- parent span is in another service, from the calls kept at write time (schema/service_calls.sql),
-- each counted once (FINAL). Error count and p95 are of the child (callee) span.
SELECT
    parent_service                                   AS parent,
    service_name                                     AS child,
    count()                                          AS call_count,
    countIf(status_code = 2)                         AS error_count,
    toInt64(quantileExact(0.95)(duration_ns))        AS p95_duration_ns
FROM {calls} FINAL
WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
GROUP BY parent_service, service_name
ORDER BY parent, child
