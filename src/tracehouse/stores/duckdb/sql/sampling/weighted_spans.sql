-- Spans that started in [$start, $end), per service and operation: stored, and estimated real
-- (each span weighted by its trace's sampling weight, 1 for traces stored unsampled). Distinct
-- traces counted by hash, outside a FILTER: see unweighted_spans.sql.
WITH w AS (SELECT trace_id, max(weight) AS weight FROM sampling_decision WHERE kept GROUP BY trace_id)
SELECT s.service_name AS service, s.span_name AS operation,
       count(*)::BIGINT AS spans,
       count(*) FILTER (WHERE s.status_code = 'ERROR')::BIGINT AS error_spans,
       sum(coalesce(w.weight, 1.0)) AS est_spans,
       coalesce(sum(coalesce(w.weight, 1.0)) FILTER (WHERE s.status_code = 'ERROR'), 0) AS est_error_spans,
       count(DISTINCT CASE WHEN s.parent_span_id IS NULL THEN hash(s.trace_id) END)::BIGINT AS root_traces,
       coalesce(sum(coalesce(w.weight, 1.0)) FILTER (WHERE s.parent_span_id IS NULL), 0) AS est_root_traces,
       count(*) FILTER (WHERE w.weight IS NOT NULL AND w.weight > 1)::BIGINT AS sampled_spans
FROM span_data s
LEFT JOIN w ON w.trace_id = s.trace_id
WHERE s.start_time >= make_timestamp_ns($start) AND s.start_time < make_timestamp_ns($end)
GROUP BY ALL;
