-- trace_summary_data's columns computed from span_data: what readers use in place of the table when
-- it does not cover every span (see summary_covers_spans.sql). The reader puts this in a CTE named
-- trace_summary_data, which shadows the table in the statement that follows.
SELECT
    trace_id,
    min(start_time)                                                   AS start_time,
    max(epoch_ns(start_time) + duration_ns)                           AS end_unix_nano,
    max(epoch_ns(start_time) + duration_ns) - min(epoch_ns(start_time)) AS duration_ns,
    count(*)                                                          AS span_count,
    count(*) FILTER (WHERE status_code = 'ERROR')                     AS error_count,
    NOT bool_or(parent_span_id IS NULL)                               AS root_is_missing,
    arg_min(epoch_ns(start_time), (parent_span_id IS NOT NULL, start_time)) AS root_start_unix_nano,
    arg_min(service_name, (parent_span_id IS NOT NULL, start_time))   AS root_service,
    arg_min(span_name, (parent_span_id IS NOT NULL, start_time))      AS root_span_name,
    map_from_entries(list(DISTINCT {'key': service_name, 'value': n})) AS spans_per_service
FROM (
    SELECT *, count(*) OVER (PARTITION BY trace_id, service_name) AS n FROM span_data
)
GROUP BY trace_id
