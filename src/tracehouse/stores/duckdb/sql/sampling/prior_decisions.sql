-- Earlier decisions (within the decision cache) for the traces registered as `wanted`.
SELECT d.trace_id, bool_or(d.kept) AS kept, max(d.probability) AS probability, any_value(d.policy) AS policy
FROM sampling_decision d
SEMI JOIN wanted w ON w.trace_id = d.trace_id
WHERE d.decided_unix_nano >= $cache_since
GROUP BY d.trace_id;
