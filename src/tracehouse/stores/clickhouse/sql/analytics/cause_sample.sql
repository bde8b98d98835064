-- trace_sample.sql's spans (the same sample) with what doctor needs to place a cause: the span's and
-- its resource's attributes as JSON text.
-- The window's spans of every selected trace (analytics/_sampled_spans.sql).
SELECT
-- include: analytics/_sample_columns
    , attributes
    , resource_attributes
-- include: analytics/_sampled_spans
