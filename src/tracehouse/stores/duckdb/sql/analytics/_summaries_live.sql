-- The head of every analysis when trace_summary_data does not cover every stored span: the same
-- columns grouped from the spans in the window (slower, never wrong). Over the window's spans only,
-- these are already the window's figures, which is what _selection.sql wants from them.
WITH RECURSIVE summary_source AS NOT MATERIALIZED (
    SELECT
        trace_id,
        min(start_time)                                   AS start_time,
        max(epoch_ns(start_time) + duration_ns)           AS end_unix_nano,
        max(epoch_ns(start_time) + duration_ns) - min(epoch_ns(start_time)) AS duration_ns,
        count(*) FILTER (WHERE status_code = 'ERROR')     AS error_count
    FROM span_data
    WHERE start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
    GROUP BY trace_id
),
