-- sampling/weighted_spans.sql for a store where no kept trace weighs more than 1: every weight is 1.
SELECT service_name AS service, span_name AS operation,
       count()                                       AS spans,
       countIf(status_code = 2)                      AS error_spans,
       toFloat64(count())                            AS est_spans,
       toFloat64(countIf(status_code = 2))           AS est_error_spans,
       uniqExactIf(trace_id, isNull(parent_span_id)) AS root_traces,
       toFloat64(countIf(isNull(parent_span_id)))    AS est_root_traces,
       toUInt64(0)                                   AS sampled_spans
FROM {span_data} {final}
WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
GROUP BY service_name, span_name
