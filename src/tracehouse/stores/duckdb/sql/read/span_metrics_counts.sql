-- Calls and error calls per series and point (Jaeger's /api/metrics/calls and /errors); a point
-- whose window holds no span of the series counts 0 (a Prometheus rate of an idle counter).
-- include: read/_span_metrics_windows
, counted AS (
    SELECT service_name, operation, t, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors
    FROM in_window
    GROUP BY ALL
)
SELECT
    se.service_name,
    se.operation,
    p.t,
    coalesce(c.calls, 0)  AS calls,
    coalesce(c.errors, 0) AS errors,
    NULL::DOUBLE          AS latency_ns
FROM series se
CROSS JOIN points p
LEFT JOIN counted c
    ON c.service_name = se.service_name AND c.operation IS NOT DISTINCT FROM se.operation AND c.t = p.t
ORDER BY se.service_name, se.operation, p.t;
