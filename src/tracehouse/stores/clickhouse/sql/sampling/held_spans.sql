-- The unreleased held spans of {trace_ids}, in model.SPAN_BATCH_SCHEMA order (ids as hex). A span
-- held twice (a replayed batch) comes twice: write_spans stores it once.
SELECT lower(hex(trace_id)), lower(hex(span_id)), lower(hex(parent_span_id)), trace_state, service_name,
       span_name, span_kind, start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes,
       resource_attributes, events, links, scope_name, scope_version, flags, scope_attributes, scope_schema_url,
       resource_schema_url
FROM {held}
WHERE trace_id IN {trace_ids}
  AND
-- include: sampling/_unreleased
