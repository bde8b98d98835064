-- Where the export's slices start (appended to _selection.sql): the start time of every
-- $slice_rows-th selected span, in order. Only start times are sorted here, which costs a few
-- bytes a span; each slice is then exported and sorted on its own (export_spans.sql).
SELECT s
FROM (SELECT s, row_number() OVER (ORDER BY s) AS n FROM selected_spans)
WHERE (n - 1) % $slice_rows = 0
ORDER BY s
