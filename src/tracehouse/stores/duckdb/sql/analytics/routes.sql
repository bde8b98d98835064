-- Routes (appended to _selection.sql). A trace's route is the multiset of its calls: for every span,
-- (parent's service:operation, its own service:operation); roots pair with NULL. Its key is the sum
-- of the calls' hashes, which does not depend on span order. One hash join and two group-bys: a
-- recursive walk of exact trees ran out of 256 MB on 5M spans and took 6 s with 2 GB.
-- $slowest_fraction (NULL = none): traces at or above the (1 - fraction) duration quantile are slow.
-- $sample_below (NULL = every trace): only the traces whose hash is below it, a fixed pseudo-random
-- sample (the same traces every time); the slow threshold is then the sample's. On 1M traces a
-- 200k-trace sample takes 0.43 s instead of 1.0 s.
--
-- Measured on 1M traces / 4.7M spans at 128 MB (2 cores): labels are hashed before the join, so
-- only UBIGINTs cross it (carrying the name strings through it cost 3.0 s instead of 1.3 s). With
-- that, one join over all spans fails at 128 MB ("failed to allocate 16 MiB": its hash table's
-- directory does not spill), so it runs as two halves split by trace hash, each scanning the spans
-- again (1.45 s of CPU against 1.25 s for the single join where it fits).
, labelled AS NOT MATERIALIZED (
    SELECT t, k, pk, hash(service_name, span_name) AS label FROM selected_spans
    WHERE $sample_below::UBIGINT IS NULL OR t < $sample_below
),
route_of AS (
    SELECT c.t, sum(hash(p.label, c.label)) AS route_key
    FROM labelled c LEFT JOIN (SELECT k, label FROM labelled WHERE t % 2 = 0) p ON p.k = c.pk
    WHERE c.t % 2 = 0
    GROUP BY c.t
    UNION ALL
    SELECT c.t, sum(hash(p.label, c.label)) AS route_key
    FROM labelled c LEFT JOIN (SELECT k, label FROM labelled WHERE t % 2 = 1) p ON p.k = c.pk
    WHERE c.t % 2 = 1
    GROUP BY c.t
),
sampled AS NOT MATERIALIZED (
    SELECT * FROM selected WHERE $sample_below::UBIGINT IS NULL OR t < $sample_below
),
threshold AS (
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
