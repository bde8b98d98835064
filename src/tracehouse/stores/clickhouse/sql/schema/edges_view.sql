-- One row per call between two spans: parent service/operation -> child service/operation. As in
-- read/dependencies.sql: the span table unwrapped on the left, parents from the local table, USING.
-- The hex id is made outside the join: an alias named trace_id inside it would replace the column.
CREATE VIEW IF NOT EXISTS {edges_view} {on_cluster} AS
SELECT
    lower(hex(raw_trace_id))                               AS trace_id,
    parent_service,
    parent_operation,
    child_service,
    child_operation,
    start_time_unix_nano,
    duration_ns,
    arrayElement(['UNSET', 'OK', 'ERROR'], code + 1)       AS status_code
FROM (
    SELECT
        trace_id       AS raw_trace_id,
        parent_service,
        parent_operation,
        service_name   AS child_service,
        span_name      AS child_operation,
        start_time_unix_nano,
        duration_ns,
        status_code    AS code
    FROM {span_data} FINAL
    ALL INNER JOIN (
        SELECT trace_id, span_id AS parent_span_id, service_name AS parent_service, span_name AS parent_operation
        FROM {span_data_local} FINAL
    ) AS parents USING (trace_id, parent_span_id)
) AS calls
