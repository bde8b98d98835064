CREATE MATERIALIZED VIEW IF NOT EXISTS {summary_mv} {on_cluster} TO {summary_local} AS
SELECT
    intDiv(start_time_unix_nano, {bucket_ns})         AS bucket,
    trace_id,
    minState(start_time_unix_nano)                    AS start_ns,
    maxState(start_time_unix_nano + duration_ns)      AS end_ns,
    countState()                                      AS spans,
    countIfState(status_code = 2)                     AS errors
FROM {span_data_local}
GROUP BY bucket, trace_id
