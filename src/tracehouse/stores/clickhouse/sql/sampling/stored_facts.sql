-- What the policies look at (TRACE_COLUMNS), one row per trace, for the stored spans of
-- {trace_ids} (FINAL: a span re-sent before a merge counts once).
SELECT lower(hex(trace_id)) AS id,
       countIf(isNull(parent_span_id)) > 0                                       AS has_root,
       argMin(service_name, (isNotNull(parent_span_id), start_time_unix_nano))   AS root_service,
       argMin(span_name, (isNotNull(parent_span_id), start_time_unix_nano))      AS root_operation,
       min(start_time_unix_nano)                                                 AS start_unix_nano,
       max(start_time_unix_nano + duration_ns)                                   AS end_unix_nano,
       count()                                                                   AS span_count,
       countIf(status_code = 2)                                                  AS error_count,
       sum(64 + length(attributes) + length(ifNull(events, '')) + length(ifNull(links, ''))
           + length(span_name))                                                  AS approx_bytes,
       {attribute_lists}
FROM {span_data} FINAL
WHERE trace_id IN {trace_ids}
GROUP BY trace_id
