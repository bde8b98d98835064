-- What the policies look at (receiver.sampling.traces.FACT_COLUMNS) for the held spans of the
-- traces registered as `wanted` (one column, trace_id).
SELECT h.trace_id, h.parent_span_id, h.service_name, h.span_name, h.status_code,
       h.start_time_unix_nano, h.end_time_unix_nano, h.attributes, h.resource_attributes,
       (64 + strlen(coalesce(h.attributes, '')) + strlen(coalesce(h.events, ''))
           + strlen(coalesce(h.links, '')) + length(coalesce(h.span_name, '')))::BIGINT AS approx_bytes
FROM sampling_held_span h
SEMI JOIN wanted w ON w.trace_id = h.trace_id;
