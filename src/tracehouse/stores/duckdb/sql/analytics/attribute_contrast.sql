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
),
totals AS (
    SELECT count(*) FILTER (WHERE in_selection) AS selected_total,
           count(*) FILTER (WHERE NOT in_selection) AS baseline_total
    FROM sampled
),
-- The sampled traces' spans first, as a small materialised set: without it the planner unnests
-- every span's attributes before filtering (50 s on 5M spans instead of a few hundred ms). Resource
-- attributes are unnested once per resource and joined by resource: as JSON text per span, 20,000
-- traces a side of ~11 spans with 12 resource attributes each ran out of the store's 128 MB.
sampled_spans AS MATERIALIZED (
    SELECT w.t, w.attributes::JSON AS span_json, w.resource_id
    FROM window_spans w
    SEMI JOIN sampled s ON s.t = w.t
),
resource_pairs AS MATERIALIZED (
    SELECT r.resource_id, e.key, e.value ->> '$' AS value
    FROM resource_data r, json_each(r.attributes::JSON) e
    WHERE r.resource_id IN (SELECT DISTINCT resource_id FROM sampled_spans)
),
pairs AS (
    SELECT DISTINCT t, 'span' AS scope, e.key, e.value ->> '$' AS value
    FROM sampled_spans, json_each(span_json) e
    UNION
    SELECT DISTINCT u.t, 'resource' AS scope, rp.key, rp.value
    FROM (SELECT DISTINCT t, resource_id FROM sampled_spans) u
    JOIN resource_pairs rp USING (resource_id)
)
SELECT
    p.scope,
    p.key,
    p.value,
    count(*) FILTER (WHERE s.in_selection)          AS selected,
    count(*) FILTER (WHERE NOT s.in_selection)      AS baseline,
    any_value(totals.selected_total)                AS selected_total,
    any_value(totals.baseline_total)                AS baseline_total,
    any_value(threshold.ns)                         AS threshold_ns
FROM pairs p
JOIN sampled s USING (t)
CROSS JOIN totals
CROSS JOIN threshold
GROUP BY p.scope, p.key, p.value
ORDER BY p.scope, p.key, p.value
