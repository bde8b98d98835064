-- The counting part of attribute_contrast.sql and attribute_contrast_given.sql: each defines
-- `sampled` (t, in_selection: the traces read, each side's) and `threshold` (ns: one row, null
-- when the sides were not chosen by duration here), and this counts each attribute value's traces
-- on each side. $lo_i/$hi_i (i = 1..12): time ranges that hold every sampled trace's spans (the
-- whole window when none narrows it), OR-ed on start_time so that zone maps skip the rest.
, totals AS (
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
    WHERE (   (w.start_time >= make_timestamp_ns($lo_1) AND w.start_time < make_timestamp_ns($hi_1))
           OR (w.start_time >= make_timestamp_ns($lo_2) AND w.start_time < make_timestamp_ns($hi_2))
           OR (w.start_time >= make_timestamp_ns($lo_3) AND w.start_time < make_timestamp_ns($hi_3))
           OR (w.start_time >= make_timestamp_ns($lo_4) AND w.start_time < make_timestamp_ns($hi_4))
           OR (w.start_time >= make_timestamp_ns($lo_5) AND w.start_time < make_timestamp_ns($hi_5))
           OR (w.start_time >= make_timestamp_ns($lo_6) AND w.start_time < make_timestamp_ns($hi_6))
           OR (w.start_time >= make_timestamp_ns($lo_7) AND w.start_time < make_timestamp_ns($hi_7))
           OR (w.start_time >= make_timestamp_ns($lo_8) AND w.start_time < make_timestamp_ns($hi_8))
           OR (w.start_time >= make_timestamp_ns($lo_9) AND w.start_time < make_timestamp_ns($hi_9))
           OR (w.start_time >= make_timestamp_ns($lo_10) AND w.start_time < make_timestamp_ns($hi_10))
           OR (w.start_time >= make_timestamp_ns($lo_11) AND w.start_time < make_timestamp_ns($hi_11))
           OR (w.start_time >= make_timestamp_ns($lo_12) AND w.start_time < make_timestamp_ns($hi_12)))
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
