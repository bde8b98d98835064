        -- The sample's trace ids, chosen once across the cluster (GLOBAL IN): of the candidates
        -- (sample_candidates.sql: the selected traces with a span in one of the slices), those whose
        -- first start lies within {half_share} of the middle of its interval of [{low}, {high}) cut
        -- in {slice_count} (the embedded store's sample_slices.sql test, in the same float64
        -- arithmetic), the {max_traces} with the lowest cityHash64.
        SELECT t FROM (
            SELECT t, cityHash64(t) AS h, minMerge(st) AS s
            FROM (
{parts}
            ) AS parts
            GROUP BY t
        ) AS candidates
        WHERE abs((s - {low}) / ({high} - {low}) * {slice_count}
                  - floor((s - {low}) / ({high} - {low}) * {slice_count}) - 0.5) < {half_share}
        ORDER BY h, t
        LIMIT {max_traces}
