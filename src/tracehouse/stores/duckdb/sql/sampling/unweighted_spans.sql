-- sampling/weighted_spans.sql for a store that never sampled: every weight is 1.
-- Distinct traces are counted by hash, outside a FILTER: count(DISTINCT trace_id) FILTER (...) cost
-- 0.61 s of CPU on the 2M spans of an hour at 1M traces (bench/scale_bench.py), this 0.17 s.
SELECT s.service_name AS service, s.span_name AS operation,
       count(*)::BIGINT AS spans,
       count(*) FILTER (WHERE s.status_code = 'ERROR')::BIGINT AS error_spans,
       count(*)::DOUBLE AS est_spans,
       (count(*) FILTER (WHERE s.status_code = 'ERROR'))::DOUBLE AS est_error_spans,
       count(DISTINCT CASE WHEN s.parent_span_id IS NULL THEN hash(s.trace_id) END)::BIGINT AS root_traces,
       (count(*) FILTER (WHERE s.parent_span_id IS NULL))::DOUBLE AS est_root_traces,
       0::BIGINT AS sampled_spans
FROM span_data s
WHERE s.start_time >= make_timestamp_ns($start) AND s.start_time < make_timestamp_ns($end)
GROUP BY ALL;
