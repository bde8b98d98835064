-- Attribute contrast (appended to _selection.sql), as Honeycomb's BubbleUp: how many selected traces
-- and how many baseline traces carry each attribute value. The selection is the erroring traces
-- ($errors), or those lasting at least $min_duration_ns, or the slowest $slowest_fraction. Each side
-- is capped at $max_traces traces, taken in trace-hash order (a fixed pseudo-random sample), so
-- that unnesting attribute maps stays cheap on a large store.
, threshold AS (
    SELECT CASE WHEN $errors::BOOLEAN THEN NULL
                WHEN $min_duration_ns::BIGINT IS NOT NULL THEN $min_duration_ns::BIGINT
                ELSE quantile_disc(duration_ns, 1 - coalesce($slowest_fraction::DOUBLE, 0.05)) END AS ns
    FROM selected
),
sided AS (
    SELECT s.t, CASE WHEN $errors::BOOLEAN THEN s.failed ELSE s.duration_ns >= th.ns END AS in_selection
    FROM selected s CROSS JOIN threshold th
),
sampled AS (
    SELECT t, in_selection
    FROM sided
    QUALIFY row_number() OVER (PARTITION BY in_selection ORDER BY t) <= $max_traces
)
-- include: analytics/_contrast_counts
