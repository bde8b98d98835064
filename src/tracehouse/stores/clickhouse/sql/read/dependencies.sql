-- Calls between services among spans that started in {start}..{end} (ns): a span of `child` whose
-- parent span is in another service. Error count and p95 are of the child (callee) span.
-- The span table is on the left, unwrapped and unaliased, and the parents come from the local table:
-- on a cluster the whole join then runs on every shard against that shard's traces (a trace lives
-- on one shard). JOIN ... USING, because 18.16 loses table aliases when it rewrites the query for
-- the shards.
SELECT
    parent_service                                   AS parent,
    service_name                                     AS child,
    count()                                          AS call_count,
    countIf(status_code = 2)                         AS error_count,
    toInt64(quantileExact(0.95)(duration_ns))        AS p95_duration_ns
FROM {span_data} FINAL
ALL INNER JOIN (
    SELECT trace_id, span_id AS parent_span_id, service_name AS parent_service
    FROM {span_data_local} FINAL
    WHERE start_time_unix_nano < {end}
) AS parents USING (trace_id, parent_span_id)
WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
  AND parent_service != service_name
GROUP BY parent_service, service_name
ORDER BY parent, child
