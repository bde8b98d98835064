-- Example queries shown in the SQL console. Each starts with a "-- example: <title>" line.

-- example: Slowest traces in the last hour
SELECT trace_id, root_service, root_span_name, duration_ns / 1e6 AS duration_ms, span_count, error_count
FROM traces
WHERE start_time > now()::TIMESTAMP - INTERVAL 1 HOUR
ORDER BY duration_ns DESC
LIMIT 20;

-- example: p50 / p95 / p99 per service and operation
SELECT service_name, span_name, count(*) AS spans,
       quantile_cont(duration_ns, [0.5, 0.95, 0.99]) AS p50_p95_p99_ns
FROM spans
GROUP BY ALL
ORDER BY spans DESC;

-- example: Error rate per service and version
SELECT service_name, resource_attributes['service.version']::VARCHAR AS version,
       count(*) AS spans, avg((status_code = 'ERROR')::INT) AS error_rate
FROM spans
GROUP BY ALL
ORDER BY error_rate DESC;

-- example: Who calls whom (service dependency edges)
SELECT parent_service, child_service, count(*) AS calls,
       quantile_cont(duration_ns, 0.95) / 1e6 AS p95_ms
FROM edges
WHERE parent_service <> child_service
GROUP BY ALL
ORDER BY calls DESC;

-- example: Traffic by traffic.type, per minute
SELECT time_bucket(INTERVAL 1 MINUTE, start_time) AS minute,
       attributes['traffic.type']::VARCHAR AS traffic_type, count(*) AS requests
FROM spans
WHERE parent_span_id IS NULL
GROUP BY ALL
ORDER BY minute;

-- example: Duration against start time (a scatter plot)
SELECT start_time, duration_ns / 1e6 AS duration_ms, root_service
FROM traces
ORDER BY start_time DESC
LIMIT 2000;
