-- The spans of the selected traces that start in [{from_ns}, {to_ns}) (one slice of an export; see
-- export_slices.sql), in model.SPAN_ROW_SCHEMA order, by start time.
SELECT
    lower(hex(trace_id))        AS trace_hex,
    lower(hex(span_id))         AS span_hex,
    lower(hex(parent_span_id))  AS parent_hex,
    trace_state,
    service_name,
    span_name,
    span_kind,
    start_time_unix_nano,
    duration_ns,
    status_code,
    status_message,
    attributes,
    resource_attributes,
    events,
    links,
    scope_name,
    scope_version,
    flags,
    scope_attributes,
    scope_schema_url,
    resource_schema_url
FROM {span_data} FINAL
WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
  AND start_time_unix_nano >= {from_ns} AND start_time_unix_nano < {to_ns}
  AND trace_id IN (
-- include: analytics/_selected_traces
  )
ORDER BY start_time_unix_nano, trace_id, span_id
