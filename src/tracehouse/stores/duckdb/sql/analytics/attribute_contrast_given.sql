-- Attribute contrast over sides the caller chose (Selection.traces; appended to _selection.sql):
-- $selected and $others are the two sides' trace ids (BLOB lists), read whole. The analyses choose
-- them by the one trace duration (tracehouse.analytics.trace_time), which SQL cannot compute.
, given AS (
    SELECT unnest($selected::BLOB[]) AS trace_id, true AS in_selection
    UNION ALL
    SELECT unnest($others::BLOB[]) AS trace_id, false AS in_selection
),
sampled AS MATERIALIZED (
    SELECT hash(trace_id) AS t, bool_or(in_selection) AS in_selection FROM given GROUP BY ALL
),
threshold AS (
    SELECT NULL::BIGINT AS ns
)
-- include: analytics/_contrast_counts
