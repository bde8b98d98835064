-- Example queries shown in the SQL console, in ClickHouse SQL (they run on 18.16 and on current
-- servers). Each starts with a "-- example: <title>" line.

-- example: Slowest traces in the last hour
SELECT trace_id, root_service, root_span_name, duration_ns / 1e6 AS duration_ms, span_count, error_count
FROM traces
WHERE start_time_unix_nano > (toUInt64(now()) - 3600) * 1000000000
ORDER BY duration_ns DESC
LIMIT 20;

-- example: p50 / p95 / p99 per service and operation
SELECT service_name, span_name, count() AS spans,
       quantiles(0.5, 0.95, 0.99)(duration_ns) AS p50_p95_p99_ns
FROM spans
GROUP BY service_name, span_name
ORDER BY spans DESC;

-- example: Error rate per service and version
SELECT service_name, visitParamExtractString(resource_attributes, 'service.version') AS version,
       count() AS spans, avg(status_code = 'ERROR') AS error_rate
FROM spans
GROUP BY service_name, version
ORDER BY error_rate DESC;

-- example: Spans with an HTTP status of 500
SELECT trace_id, service_name, span_name, duration_ns
FROM spans
WHERE visitParamExtractRaw(attributes, 'http.response.status_code') = '500'
LIMIT 100;

-- example: Calls between services
SELECT parent_service, child_service, count() AS calls, quantile(0.95)(duration_ns) AS p95_ns
FROM edges
WHERE parent_service != child_service
GROUP BY parent_service, child_service
ORDER BY calls DESC;
