-- What the policies look at (receiver.sampling.traces.TRACE_COLUMNS), one row per trace, for the
-- stored spans of the traces registered as `wanted`; each span's cost approximated from its text.
SELECT s.trace_id,
       bool_or(s.parent_span_id IS NULL)                                         AS has_root,
       arg_min(s.service_name, (s.parent_span_id IS NOT NULL, s.start_time))      AS root_service,
       arg_min(s.span_name, (s.parent_span_id IS NOT NULL, s.start_time))         AS root_operation,
       min(epoch_ns(s.start_time))                                                AS start_unix_nano,
       max(epoch_ns(s.start_time) + s.duration_ns)                                AS end_unix_nano,
       count(*)                                                                   AS span_count,
       count(*) FILTER (WHERE s.status_code = 'ERROR')                            AS error_count,
       sum(64 + strlen(coalesce(s.attributes::VARCHAR, '')) + strlen(coalesce(s.events::VARCHAR, ''))
           + strlen(coalesce(s.links::VARCHAR, '')) + strlen(s.span_name))::BIGINT AS approx_bytes,
       CASE WHEN $with_attributes THEN list(s.attributes::VARCHAR) END           AS attributes,
       CASE WHEN $with_attributes THEN list(DISTINCT r.attributes::VARCHAR) END  AS resource_attributes
FROM span_data s
LEFT JOIN resource_data r ON r.resource_id = s.resource_id
SEMI JOIN wanted w ON w.trace_id = s.trace_id
GROUP BY s.trace_id;
