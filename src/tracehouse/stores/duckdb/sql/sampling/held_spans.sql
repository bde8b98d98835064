-- The held spans of the traces registered as `wanted`, as decoded (model.SPAN_BATCH_SCHEMA).
SELECT h.trace_id, h.span_id, h.parent_span_id, h.trace_state, h.service_name, h.span_name, h.span_kind,
       h.start_time_unix_nano, h.end_time_unix_nano, h.status_code, h.status_message, h.attributes,
       h.resource_attributes, h.events, h.links, h.scope_name, h.scope_version, h.flags, h.scope_attributes,
       h.scope_schema_url, h.resource_schema_url
FROM sampling_held_span h
SEMI JOIN wanted w ON w.trace_id = h.trace_id;
