-- How many traces the filter selects, and when the first and the last of them started (appended to
-- _selection.sql): doctor places its default window and baseline with it.
SELECT count(*), min(start_ns), max(start_ns) FROM selected
