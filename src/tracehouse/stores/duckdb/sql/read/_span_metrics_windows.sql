-- The spans and windows of a RED metrics query (model.SpanMetricsQuery; included by
-- read/span_metrics_counts.sql and read/span_metrics_latencies.sql). Points are
-- t = $first + k * $step for k in [0, $points); a point's window is (t - $rate_per, t], as a
-- Prometheus rate over [ratePer] evaluated at t. Only spans of $services with a kind in $kinds,
-- started in the union of the windows, are read: one range on start_time, which zone maps prune.
WITH points AS (
    SELECT $first::BIGINT + k * $step::BIGINT AS t
    FROM range($points::BIGINT) r(k)
),
selected AS (
    SELECT
        service_name,
        CASE WHEN $by_operation THEN span_name END AS operation,
        epoch_ns(start_time)                       AS s,
        duration_ns,
        status_code = 'ERROR'                      AS failed
    FROM span_data
    WHERE start_time > make_timestamp_ns($first::BIGINT - $rate_per::BIGINT)
      AND start_time <= make_timestamp_ns($first::BIGINT + ($points::BIGINT - 1) * $step::BIGINT)
      AND list_contains($services::VARCHAR[], service_name)
      AND list_contains($kinds::VARCHAR[], span_kind::VARCHAR)
),
series AS (
    SELECT DISTINCT service_name, operation FROM selected
),
in_window AS (
    SELECT sp.*, p.t
    FROM selected sp
    JOIN points p ON sp.s > p.t - $rate_per::BIGINT AND sp.s <= p.t
)
