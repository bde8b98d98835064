-- One row per trace. The root is the span without a parent (the earliest one if there are several).
-- (The inner names differ from the columns': 18.16 would read an alias inside the other aggregates.)
CREATE VIEW IF NOT EXISTS {traces_view} {on_cluster} AS
SELECT
    lower(hex(trace_id)) AS trace_id,
    root_service,
    root_span_name,
    first_start          AS start_time_unix_nano,
    last_end - first_start AS duration_ns,
    spans                AS span_count,
    errors               AS error_count
FROM (
    SELECT
        trace_id,
        argMin(service_name, (isNotNull(parent_span_id), start_time_unix_nano))  AS root_service,
        argMin(span_name, (isNotNull(parent_span_id), start_time_unix_nano))     AS root_span_name,
        min(start_time_unix_nano)                                                AS first_start,
        max(start_time_unix_nano + duration_ns)                                  AS last_end,
        count()                                                                  AS spans,
        countIf(status_code = 2)                                                 AS errors
    FROM {span_data} FINAL
    GROUP BY trace_id
) AS t
