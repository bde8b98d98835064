-- Every span of the traces whose raw ids are in $trace_ids, in model.SPAN_ROW_SCHEMA order. Only spans
-- starting in $min_start..$max_start (ns) are read: the caller narrows that band with the trace
-- summary so zone maps skip the other row groups, or passes the whole range.
-- It reads span_data rather than the `spans` view: the view shows ids as hex, and a filter on
-- hex text could not use the raw ids or the start_time zone maps.
SELECT
    lower(hex(trace_id))          AS trace_id,
    lower(hex(span_id))           AS span_id,
    lower(hex(parent_span_id))    AS parent_span_id,
    trace_state,
    service_name,
    span_name,
    span_kind::VARCHAR            AS span_kind,
    epoch_ns(start_time)          AS start_time_unix_nano,
    duration_ns,
    status_code::VARCHAR          AS status_code,
    status_message,
    attributes::JSON::VARCHAR           AS attributes,
    resource_attributes::JSON::VARCHAR  AS resource_attributes,
    events::JSON::VARCHAR               AS events,
    links::JSON::VARCHAR                AS links,
    scope_name,
    scope_version
FROM span_data
WHERE start_time BETWEEN make_timestamp_ns($min_start) AND make_timestamp_ns($max_start)
  AND trace_id IN (SELECT unnest($trace_ids::BLOB[]))
ORDER BY trace_id, start_time, span_id;
