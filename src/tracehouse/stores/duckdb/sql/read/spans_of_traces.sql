-- Every span of the traces whose raw ids are in $trace_ids, in model.SPAN_ROW_SCHEMA order. Only spans
-- starting in $min_start..$max_start (ns) are read: the caller narrows that band with the trace
-- summary so zone maps skip the other row groups, or passes the whole range.
-- It reads span_data rather than the `spans` view: the view shows ids as hex, and a filter on
-- hex text could not use the raw ids or the start_time zone maps.
SELECT
    lower(hex(d.trace_id))        AS trace_id,
    lower(hex(d.span_id))         AS span_id,
    lower(hex(d.parent_span_id))  AS parent_span_id,
    d.trace_state,
    d.service_name,
    d.span_name,
    d.span_kind::VARCHAR          AS span_kind,
    epoch_ns(d.start_time)        AS start_time_unix_nano,
    d.duration_ns,
    d.status_code::VARCHAR        AS status_code,
    d.status_message,
    d.attributes::JSON::VARCHAR   AS attributes,
    r.attributes::JSON::VARCHAR   AS resource_attributes,
    d.events::JSON::VARCHAR       AS events,
    d.links::JSON::VARCHAR        AS links,
    d.scope_name,
    d.scope_version,
    d.flags::BIGINT               AS flags,
    d.scope_attributes::JSON::VARCHAR AS scope_attributes,
    d.scope_schema_url,
    d.resource_schema_url
FROM span_data d
LEFT JOIN resource_data r ON r.resource_id = d.resource_id
WHERE d.start_time BETWEEN make_timestamp_ns($min_start) AND make_timestamp_ns($max_start)
  AND d.trace_id IN (SELECT unnest($trace_ids::BLOB[]))
ORDER BY d.trace_id, d.start_time, d.span_id;
