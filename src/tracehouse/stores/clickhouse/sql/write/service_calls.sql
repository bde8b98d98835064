-- Derive the calls (schema/service_calls.sql) of the selected traces: every span with
-- a stored parent span in another service. The writer runs it after each batch's insert, for the
-- batch's traces, so a call is found whichever of child and parent arrived last (reading after
-- the insert: of two instances writing a child and its parent at once, the later reader sees both);
-- it also runs for a whole store created before this table (in slices of trace-id hash). Every call
-- of those traces is written again, which the table's ReplacingMergeTree and FINAL make harmless.
-- As read/dependencies.sql used to: the span table unwrapped on the left, the parents from the
-- local table, USING, so on a cluster the join runs on every shard beside its own traces.
INSERT INTO {calls}
SELECT trace_id, span_id, start_time_unix_nano, parent_service, parent_start, service_name, duration_ns, status_code,
       {derived_at}
FROM {span_data}
ALL INNER JOIN (
    SELECT trace_id, span_id AS parent_span_id, service_name AS parent_service, start_time_unix_nano AS parent_start
    FROM {span_data_local}
    WHERE {traces}
) AS parents USING (trace_id, parent_span_id)
WHERE {traces} AND parent_service != service_name
