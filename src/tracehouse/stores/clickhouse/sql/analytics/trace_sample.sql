-- The window's spans of every selected trace (analytics/_sampled_spans.sql).
SELECT
-- include: analytics/_sample_columns
-- include: analytics/_sampled_spans
