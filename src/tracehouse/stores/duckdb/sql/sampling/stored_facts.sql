-- What the policies look at (receiver.sampling.traces.FACT_COLUMNS) for the stored spans of the
-- traces registered as `wanted`, with each span's cost on disk approximated from its text.
SELECT s.trace_id, s.parent_span_id, s.service_name, s.span_name,
       (CASE s.status_code WHEN 'ERROR' THEN 2 WHEN 'OK' THEN 1 ELSE 0 END)::UTINYINT AS status_code,
       epoch_ns(s.start_time) AS start_time_unix_nano,
       epoch_ns(s.start_time) + s.duration_ns AS end_time_unix_nano,
       s.attributes::VARCHAR AS attributes, r.attributes::VARCHAR AS resource_attributes,
       (64 + strlen(coalesce(s.attributes::VARCHAR, '')) + strlen(coalesce(s.events::VARCHAR, ''))
           + strlen(coalesce(s.links::VARCHAR, '')) + length(s.span_name))::BIGINT AS approx_bytes
FROM span_data s
LEFT JOIN resource_data r ON r.resource_id = s.resource_id
SEMI JOIN wanted w ON w.trace_id = s.trace_id;
