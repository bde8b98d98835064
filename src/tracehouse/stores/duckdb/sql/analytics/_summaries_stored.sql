-- The head of every analysis when trace_summary_data covers every stored span (analytics.py checks
-- with read/summary_covers_spans.sql): the writer's one row per trace, so per-trace figures need not
-- group millions of spans.
WITH RECURSIVE summary_source AS NOT MATERIALIZED (
    SELECT trace_id, start_time, end_unix_nano, duration_ns, error_count FROM trace_summary_data
),
