-- How many spans each service has in each of the traces {trace_ids} (search results).
SELECT lower(hex(trace_id)), service_name, count()
FROM {span_data} FINAL
PREWHERE trace_id IN {trace_ids}
GROUP BY trace_id, service_name
