-- The registered arrow table `new_links` (INFERRED_LINK_SCHEMA), ids from hex.
INSERT INTO inferred_link_data (child_trace_id, child_span_id, child_start_time, parent_trace_id, parent_span_id,
                                confidence, method, child_service, parent_service)
SELECT unhex(child_trace_id), unhex(child_span_id), make_timestamp_ns(child_start_time_unix_nano),
       unhex(parent_trace_id), unhex(parent_span_id), confidence, method, child_service, parent_service
FROM new_links;
