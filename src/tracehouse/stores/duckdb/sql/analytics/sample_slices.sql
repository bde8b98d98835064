-- The traces of a sample drawn from time slices (appended to _selection.sql), for trace_sample and
-- cause_sample when the window selects more than $max_traces traces. The window is cut into
-- $slices equal intervals; in the middle of each, a slice of $slice_share of its length is taken
-- (sized by analytics.py to hold ~1.25 x $max_traces traces in all at the window's average rate),
-- and of the traces that start in a slice, the $max_traces with the lowest trace hashes are the
-- sample: the same traces every time, spread over the whole window. Their spans then lie in a few
-- short time ranges, which _sliced_spans.sql reads through the zone maps on start_time instead of
-- scanning every span of the window. Returns each sampled trace's hash, slice and start/end.
, bounds AS (
    SELECT min(start_ns) AS lo, max(start_ns) + 1 AS hi FROM selected
),
placed AS (
    SELECT s.t, s.start_ns, s.start_ns + s.duration_ns AS end_ns,
           (s.start_ns - b.lo) / (b.hi - b.lo) * $slices AS position
    FROM selected s CROSS JOIN bounds b
)
SELECT t, floor(position)::BIGINT AS slice, start_ns, end_ns
FROM placed
WHERE abs(position - floor(position) - 0.5) < $slice_share / 2
ORDER BY t
LIMIT $max_traces
