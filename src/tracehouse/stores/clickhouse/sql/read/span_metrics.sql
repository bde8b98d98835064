-- RED metrics per series and point (Jaeger's /api/metrics/*). Points are t_k = {first} + k * {step}
-- for k in [0, {points}); a point's window is (t_k - {rate_per}, t_k], as a Prometheus rate over
-- [ratePer] evaluated at t_k. A span that started at s is in the windows of the points with
-- s <= t_k < s + {rate_per}: k from ceil((s - first) / step) to floor((s + rate_per - 1 - first) /
-- step), computed on numerators made positive by {shift} (a multiple of {step}), as intDiv
-- truncates toward zero. The quantile is DuckDB's quantile_cont (linear between closest ranks) over
-- the window's sorted durations, so both stores give the same figure; 0 when {quantile} < 0 (counts
-- only). Spans are read once from FINAL (a span re-sent before a merge counts once).
SELECT service_name, operation, t, calls, errors, latency_ns
FROM (
SELECT
    service_name,
    operation,
    {first} + k * {step}                                    AS t,
    count()                                                 AS calls,
    countIf(failed)                                         AS errors,
    arraySort(groupArrayIf(duration_ns, {quantile} >= 0))   AS ds,
    greatest(length(ds) - 1, 0) * greatest({quantile}, 0.)  AS pos,
    toUInt64(floor(pos)) + 1                                AS low,
    if({quantile} < 0 OR length(ds) = 0, 0.,
       arrayElement(ds, low) + (arrayElement(ds, least(low + 1, length(ds))) - arrayElement(ds, low))
                               * (pos - floor(pos)))        AS latency_ns
FROM (
    SELECT
        service_name,
        if({by_operation}, span_name, '')                   AS operation,
        duration_ns,
        status_code = 2                                     AS failed,
        intDiv(start_time_unix_nano - {first} + {shift} + {step} - 1, {step}) - intDiv({shift}, {step}) AS k_low,
        intDiv(start_time_unix_nano - {first} + {shift} + {rate_per} - 1, {step}) - intDiv({shift}, {step}) AS k_high
    FROM {span_data} FINAL
    WHERE start_time_unix_nano > {first} - {rate_per} AND start_time_unix_nano <= {last}
      AND service_name IN {services}
      AND span_kind IN {kinds}
) AS selected
ARRAY JOIN arrayMap(i -> greatest(k_low, 0) + i,
                    range(toUInt64(greatest(least(k_high, {points} - 1) - greatest(k_low, 0) + 1, 0)))) AS k
GROUP BY service_name, operation, k
) AS grouped
ORDER BY service_name, operation, t
