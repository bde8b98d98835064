-- What users query (`tracehouse sql`): one row per span, ids as hex, names for enumerations.
CREATE VIEW IF NOT EXISTS {spans_view} {on_cluster} AS
SELECT
    lower(hex(trace_id))                                                     AS trace_id,
    lower(hex(span_id))                                                      AS span_id,
    lower(hex(parent_span_id))                                               AS parent_span_id,
    trace_state,
    service_name,
    span_name,
    arrayElement(['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'], span_kind + 1) AS span_kind,
    toDateTime(intDiv(start_time_unix_nano, 1000000000))                     AS start_time,
    start_time_unix_nano,
    start_time_unix_nano + duration_ns                                       AS end_time_unix_nano,
    duration_ns,
    arrayElement(['UNSET', 'OK', 'ERROR'], status_code + 1)                  AS status_code,
-- include: schema/_span_detail_columns
FROM {span_data} FINAL
