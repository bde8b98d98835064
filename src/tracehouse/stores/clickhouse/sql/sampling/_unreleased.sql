(trace_id, hold_id) NOT IN (SELECT trace_id, hold_id FROM {released_local})
