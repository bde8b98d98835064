-- Prepended before the summaries head when an analysis looks only at reconstructed traces and the
-- store has no inferred links (analytics.py): no spans at all.
WITH RECURSIVE span_data AS NOT MATERIALIZED (
    SELECT * FROM main.span_data WHERE false
),
