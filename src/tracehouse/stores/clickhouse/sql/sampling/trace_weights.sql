-- The sampling weights of {trace_ids} that a tail sampler kept.
SELECT lower(hex(trace_id)) AS id, max(weight)
FROM {decisions}
WHERE trace_id IN {trace_ids} AND kept = 1
GROUP BY trace_id
