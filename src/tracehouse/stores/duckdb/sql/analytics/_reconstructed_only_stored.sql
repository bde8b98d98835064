-- Prepended before the summaries head when an export keeps only reconstructed traces (analytics.py):
-- their spans exactly as stored (an export never changes ids or parents).
WITH RECURSIVE touched AS MATERIALIZED (   -- once: the recursive view is not re-run for every reference below
    SELECT DISTINCT unhex(trace_id) AS trace_id FROM reconstructed_traces
),
span_data AS NOT MATERIALIZED (
    SELECT * FROM main.span_data
    WHERE trace_id IN (SELECT trace_id FROM touched)
),
