-- Routes, the heavy part: one row per route with its traces' durations (the store finishes the
-- percentiles and the slow count in Python, over at most the sampled traces). A trace's route is the
-- multiset of its calls: for every span in the window, (its parent's service:operation, its own);
-- a span whose parent is not in the window pairs with the empty label. The key is the sum of the
-- calls' hashes, which does not depend on span order.
-- The span table is on the left, unwrapped, with the parents from the local table (USING): on a
-- cluster the join runs on each shard; grouping by trace id then merges the shards' partial groups.
-- {sample_below}: only traces whose cityHash64 is below it (a fixed pseudo-random sample), or every
-- trace when it is 2^64 - 1.
SELECT
    toString(route_key)                            AS route_key,
    count()                                        AS traces,
    countIf(failed)                                AS error_traces,
    groupArray(duration_ns)                        AS durations,
    lower(hex(argMax(trace_id, (duration_ns, trace_id)))) AS example_trace_id
FROM (
    SELECT
        trace_id,
        sum(cityHash64(parent_label, label))       AS route_key,
        max(start_time_unix_nano + duration_ns) - min(start_time_unix_nano) AS duration_ns,
        max(status_code = 2)                       AS failed
    FROM (
        SELECT trace_id, start_time_unix_nano, duration_ns, status_code, parent_label,
               cityHash64(service_name, span_name) AS label
        FROM {span_data} FINAL
        ALL LEFT JOIN (
            SELECT trace_id, span_id AS parent_span_id, cityHash64(service_name, span_name) AS parent_label
            FROM {span_data_local} FINAL
            WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
        ) AS parents USING (trace_id, parent_span_id)
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          AND cityHash64(trace_id) <= {sample_below}
          {narrowing}
    ) AS calls
    GROUP BY trace_id
) AS per_trace
GROUP BY route_key
