-- True when trace_summary_data accounts for every stored span, so readers may trust it.
SELECT (SELECT coalesce(sum(span_count), 0) FROM trace_summary_data) = (SELECT count(*) FROM span_data);
