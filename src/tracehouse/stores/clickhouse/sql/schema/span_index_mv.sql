CREATE MATERIALIZED VIEW IF NOT EXISTS {index_mv} {on_cluster} TO {index_local} AS
SELECT service_name, start_time_unix_nano, span_name, span_kind, duration_ns, status_code, trace_id
FROM {span_data_local}
