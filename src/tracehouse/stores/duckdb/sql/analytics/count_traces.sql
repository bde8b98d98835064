-- How many traces the filter selects (appended to _selection.sql).
SELECT count(*) FROM selected
