-- Prepended before the summaries head when an analysis leaves reconstructed traces out (analytics.py):
-- `span_data` is shadowed by the spans of the traces reconstruction did not touch (neither a
-- fragment nor a trace fragments were joined to, as listed by reconstructed_traces).
WITH RECURSIVE touched AS MATERIALIZED (   -- once: the recursive view is not re-run for every reference below
    SELECT DISTINCT unhex(trace_id) AS trace_id FROM reconstructed_traces
),
span_data AS NOT MATERIALIZED (
    SELECT * FROM main.span_data
    WHERE trace_id NOT IN (SELECT trace_id FROM touched)
),
