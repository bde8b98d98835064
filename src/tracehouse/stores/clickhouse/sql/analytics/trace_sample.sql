-- The window's spans of a sample of the selected traces (analytics/_sampled_spans.sql).
SELECT
-- include: analytics/_sample_columns
-- include: analytics/_sampled_spans
