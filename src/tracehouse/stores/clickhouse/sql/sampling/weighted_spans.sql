-- Spans that started in [{start}, {end}), per service and operation: stored, and estimated real
-- (each span weighted by its trace's sampling weight, 1 for traces stored unsampled). The join
-- reads the local decisions: on a cluster it runs on every shard, where the trace's decision is.
-- {final}: FINAL when the window may hold copies of a span not merged yet.
SELECT service_name AS service, span_name AS operation,
       count()                                              AS spans,
       countIf(status_code = 2)                             AS error_spans,
       sum(if(d.sampling_weight > 0, d.sampling_weight, 1.0)) AS est_spans,
       sumIf(if(d.sampling_weight > 0, d.sampling_weight, 1.0), status_code = 2) AS est_error_spans,
       uniqExactIf(trace_id, isNull(parent_span_id))        AS root_traces,
       sumIf(if(d.sampling_weight > 0, d.sampling_weight, 1.0), isNull(parent_span_id)) AS est_root_traces,
       countIf(d.sampling_weight > 1)                       AS sampled_spans
FROM {span_data} {final}
ANY LEFT JOIN (
    SELECT trace_id, max(weight) AS sampling_weight FROM {decisions_local} WHERE kept = 1 GROUP BY trace_id
) AS d USING trace_id
WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
GROUP BY service_name, span_name
