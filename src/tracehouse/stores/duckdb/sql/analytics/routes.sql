-- Routes (appended to _selection.sql and to _route_keys_halves.sql or _route_keys_sample.sql, which
-- define route_of: one route key per trace, and include _sampled_spans.sql for sampled: the traces
-- it covers). A trace's route is
-- the multiset of its calls: for every span, (parent's service:operation, its own
-- service:operation); roots pair with NULL. Its key is the sum of the calls' hashes, which does not
-- depend on span order. One hash join and two group-bys: a recursive walk of exact trees ran out of
-- 256 MB on 5M spans and took 6 s with 2 GB.
-- $slowest_fraction (NULL = none): traces at or above the (1 - fraction) duration quantile are slow.
-- $sample_below (NULL = every trace): only the traces whose hash is below it, a fixed pseudo-random
-- sample (the same traces every time); the slow threshold is then the sample's.
, threshold AS (
    -- quantile_disc refuses a NULL fraction even in a branch not taken, hence the coalesce.
    SELECT CASE WHEN $slowest_fraction::DOUBLE IS NULL THEN NULL
                ELSE quantile_disc(duration_ns, 1 - coalesce($slowest_fraction::DOUBLE, 0.05)) END AS ns
    FROM sampled
)
SELECT
    route_key::VARCHAR                                              AS route_key,
    count(*)                                                        AS traces,
    count(*) FILTER (WHERE failed)                                  AS error_traces,
    quantile_cont(duration_ns, 0.50)::DOUBLE                        AS p50_ns,
    quantile_cont(duration_ns, 0.95)::DOUBLE                        AS p95_ns,
    quantile_cont(duration_ns, 0.99)::DOUBLE                        AS p99_ns,
    count(*) FILTER (WHERE duration_ns >= threshold.ns)             AS slow_traces,
    any_value(threshold.ns)                                         AS slow_threshold_ns,
    lower(hex(arg_max(trace_id, (duration_ns, trace_id))))          AS example_trace_id  -- slowest; ties by id
FROM sampled
JOIN route_of USING (t)
CROSS JOIN threshold
GROUP BY route_key
ORDER BY traces DESC, route_key
