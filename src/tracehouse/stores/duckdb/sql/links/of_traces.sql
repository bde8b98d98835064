-- Inferred links touching the traces whose raw ids are in $trace_ids (as child or as parent).
SELECT lower(hex(child_trace_id)) AS child_trace_id, lower(hex(child_span_id)) AS child_span_id,
       epoch_ns(child_start_time) AS child_start_time_unix_nano,
       lower(hex(parent_trace_id)) AS parent_trace_id, lower(hex(parent_span_id)) AS parent_span_id,
       confidence, method, child_service, parent_service
FROM inferred_link_data
WHERE child_trace_id IN (SELECT unnest($trace_ids::BLOB[]))
   OR parent_trace_id IN (SELECT unnest($trace_ids::BLOB[]))
ORDER BY child_start_time;
