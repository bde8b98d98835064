-- Every span of the traces {trace_ids} (a tuple of 16-byte ids), in model.SPAN_ROW_SCHEMA order. The
-- trace id leads the sorting key, so this reads only those traces' granules. No FINAL: a span
-- re-sent before a merge is dropped by the store from this small result (its identity, trace, span
-- and start, repeats), which spares FINAL's single-threaded merge of every column. (Hex ids are
-- named apart from the columns: in ClickHouse an alias would shadow the column in WHERE.)
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
FROM {span_data}
PREWHERE trace_id IN {trace_ids}
ORDER BY trace_id, start_time_unix_nano, span_id
