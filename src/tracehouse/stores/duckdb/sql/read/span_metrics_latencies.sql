-- The $quantile of span durations per series and point (Jaeger's /api/metrics/latencies), exact
-- over the spans of the window rather than interpolated from histogram buckets as Prometheus does.
-- Points whose window holds no span of the series are left out (Prometheus answers NaN there).
-- include: read/_span_metrics_windows
SELECT
    service_name,
    operation,
    t,
    count(*)                                         AS calls,
    count(*) FILTER (WHERE failed)                   AS errors,
    quantile_cont(duration_ns, $quantile::DOUBLE)::DOUBLE AS latency_ns
FROM in_window
GROUP BY ALL
ORDER BY service_name, operation, t;
