-- How many selected traces have a call into {target_service} (of {target_operation}; NULL = any) in
-- the window: origins reads their spans in parts of about 50,000 traces.
SELECT count() FROM (
    SELECT DISTINCT trace_id FROM {span_data}
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      AND service_name = {target_service}
      AND ({target_operation} IS NULL OR span_name = {target_operation})
      AND trace_id IN (
-- include: analytics/_selected_traces
      )
)
