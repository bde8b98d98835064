-- Exact facts of the given traces from their spans (a primary-key read per trace): root
-- service and operation, start, end, spans and error spans, as read/find_traces.sql computes them.
SELECT
    lower(hex(trace_id)) AS trace_hex,
    argMin(service_name, (isNotNull(parent_span_id), start_time_unix_nano)) AS root_service,
    argMin(span_name, (isNotNull(parent_span_id), start_time_unix_nano))    AS root_span_name,
    min(start_time_unix_nano)                                                AS start_ns,
    max(start_time_unix_nano + duration_ns) - min(start_time_unix_nano)     AS duration_ns,
    count()                                                                  AS span_count,
    countIf(status_code = 2)                                                 AS error_count
FROM {span_data} FINAL
PREWHERE trace_id IN {trace_ids}
GROUP BY trace_id
