-- What users query (`tracehouse sql`): every trace that reconstruction joined with another, as the
-- embedded store's reconstructed_traces view. A 'fragment' (its root was given an inferred parent)
-- names the trace it now belongs to, following links up (at most 32 hops: reconstruction_up_32);
-- a 'root' is a trace fragments were joined to. To leave reconstructed traces out of a query:
-- WHERE trace_id NOT IN (SELECT trace_id FROM reconstructed_traces); only the fragments:
-- ... WHERE role = 'fragment'. Where a fragment has several links, this follows its most confident
-- one (the embedded store follows every one and names the deepest trace reached).
CREATE VIEW IF NOT EXISTS {reconstructed_view} {on_cluster} AS
SELECT lower(hex(fragment)) AS trace_id, lower(hex(ancestor)) AS reconstructed_trace_id, 'fragment' AS role,
       hops, min_confidence
FROM {up_32}
UNION ALL
SELECT lower(hex(ancestor)) AS trace_id, lower(hex(ancestor)) AS reconstructed_trace_id, 'root' AS role,
       toUInt32(0) AS hops, min(min_confidence) AS min_confidence
FROM {up_32}
WHERE ancestor NOT IN (SELECT fragment FROM {up_32})
GROUP BY ancestor
