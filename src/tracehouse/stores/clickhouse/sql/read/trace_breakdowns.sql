-- For Jaeger's v3 trace summaries: per trace of {trace_ids} and per service, its spans and error spans,
-- and per trace the spans whose parent span is not stored in the trace (orphans), repeated on each of
-- the trace's rows. The parents are looked up in the local table: a trace lives on one shard.
SELECT
    lower(hex(trace_id))        AS trace_hex,
    service_name,
    count()                     AS spans,
    countIf(status_code = 2)    AS error_spans,
    sum(orphan)                 AS orphans
FROM (
    SELECT trace_id, service_name, status_code,
           isNotNull(parent_span_id) AND (trace_id, assumeNotNull(parent_span_id)) NOT IN (
               SELECT trace_id, span_id FROM {span_data_local} WHERE trace_id IN {trace_ids}
           ) AS orphan
    FROM {span_data} FINAL
    WHERE trace_id IN {trace_ids}
) AS spans_of_traces
GROUP BY trace_id, service_name
