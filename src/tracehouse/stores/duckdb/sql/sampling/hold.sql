-- Hold a decoded batch (registered as `batch`, model.SPAN_BATCH_SCHEMA) until its traces are decided.
INSERT INTO sampling_held_span
SELECT trace_id, span_id, parent_span_id, trace_state, service_name, span_name, span_kind,
       start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes,
       resource_attributes::VARCHAR, events, links, scope_name, scope_version, flags, scope_attributes,
       scope_schema_url, resource_schema_url, $received
FROM batch;
