    -- The columns of model's trace sample (analytics.TRACE_SAMPLE_SCHEMA), in its order.
    lower(hex(trace_id))          AS trace_hex,
    lower(hex(span_id))           AS span_hex,
    lower(hex(parent_span_id))    AS parent_hex,
    service_name,
    span_name,
    span_kind,
    start_time_unix_nano,
    duration_ns,
    status_code = 2               AS error
