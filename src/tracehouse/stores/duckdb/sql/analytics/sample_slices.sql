-- The traces of trace_sample and cause_sample (appended to _selection.sql): at most $max_traces of
-- the selected ones, with the time ranges their spans lie in, for _sliced_spans.sql.
-- When more are selected, the window is cut into $slices equal intervals and, in the middle of
-- each, a slice of `share` of its length is taken (sized to hold $oversample x $max_traces traces in
-- all at the window's average rate, so that a quieter stretch still fills the sample); of the
-- traces that start in a slice, the $max_traces with the lowest trace hashes are the sample: the
-- same traces every time, spread over the whole window, whose spans lie in a few short time ranges
-- that the zone maps on start_time find without scanning every span of the window.
-- Returns each sampled trace's hash, slice, start and end, and how many traces are selected.
-- The selected traces are held (three int64 a trace: 8 MB for the 333,334 of doctor's default window
-- at 1M traces) rather than grouped again for the second read: 0.09 s of CPU instead of 0.15 there.
, chosen AS MATERIALIZED (
    SELECT t, start_ns, duration_ns FROM selected
),
bounds AS (
    SELECT count(*) AS n, min(start_ns) AS lo, max(start_ns) + 1 AS hi FROM chosen
),
placed AS (
    SELECT s.t, s.start_ns, s.start_ns + s.duration_ns AS end_ns, b.n,
           (s.start_ns - b.lo) / (b.hi - b.lo) * $slices AS position,
           least(1.0, $oversample * $max_traces / b.n) AS share
    FROM chosen s CROSS JOIN bounds b
)
SELECT t, least(floor(position), $slices - 1)::BIGINT AS slice, start_ns, end_ns, n AS selected
FROM placed
WHERE n <= $max_traces OR abs(position - floor(position) - 0.5) < share / 2
ORDER BY t
LIMIT $max_traces
