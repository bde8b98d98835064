-- The sampling weight of the traces registered as `wanted` that were kept by a tail sampler.
SELECT lower(hex(d.trace_id)) AS trace_id, max(d.weight) AS weight
FROM sampling_decision d
SEMI JOIN wanted w ON w.trace_id = d.trace_id
WHERE d.kept
GROUP BY d.trace_id;
