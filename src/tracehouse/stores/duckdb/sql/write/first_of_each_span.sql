-- The row number (column `row` of the registered `numbered` batch) of the first occurrence of each
-- span (trace_id, span_id, start time), in row order: the rows to keep when a batch repeats spans.
SELECT min("row") AS "row"
FROM numbered
GROUP BY trace_id, span_id, start_time_unix_nano
ORDER BY 1;
