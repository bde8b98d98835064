-- How many traces the filter selects, and when the first and the last of them started (the start
-- of a trace: its first span in the window). doctor places its default window and baseline with it.
-- Per trace from the window's parts ({parts}: analytics/_window_trace_parts.sql, or
-- _window_trace_parts_spans.sql), keyed by cityHash64.
SELECT count(), min(s), max(s) FROM (
    SELECT t, minMerge(st) AS s
    FROM (
{parts}
    ) AS parts
    GROUP BY t
) AS per_trace
