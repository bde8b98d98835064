-- Every span of the selected traces that started in [$from_ns, $to_ns), in model.SPAN_ROW_SCHEMA
-- order (appended to _selection.sql), for `tracehouse export` and notebooks. The export runs one
-- slice of start times at a time (export_slices.sql), so its sort fits in the store's memory.
SELECT
    lower(hex(trace_id))          AS trace_id,
    lower(hex(span_id))           AS span_id,
    lower(hex(parent_span_id))    AS parent_span_id,
    trace_state,
    service_name,
    span_name,
    span_kind,
    s                             AS start_time_unix_nano,
    d                             AS duration_ns,
    status_code,
    status_message,
    w.attributes::JSON::VARCHAR   AS attributes,
    r.attributes::JSON::VARCHAR   AS resource_attributes,
    events,
    links,
    scope_name,
    scope_version,
    flags,
    scope_attributes,
    scope_schema_url,
    resource_schema_url
FROM selected_spans w
LEFT JOIN resource_data r USING (resource_id)
WHERE s >= $from_ns AND s < $to_ns
ORDER BY start_time_unix_nano, trace_id, span_id
