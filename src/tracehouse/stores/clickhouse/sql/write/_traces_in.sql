trace_id IN {trace_ids}
