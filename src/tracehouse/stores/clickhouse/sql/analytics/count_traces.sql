-- How many traces the filter selects: the distinct traces of the window's parts ({parts}:
-- analytics/_window_trace_parts.sql, or _window_trace_parts_spans.sql), keyed by cityHash64 (a UInt64
-- set: at 1M traces the chance of any collision is about 3e-8).
SELECT uniqExact(t) FROM (
{parts}
) AS parts
