-- What users query (`tracehouse sql`): every trace that reconstruction joined with another, as the
-- embedded store's reconstructed_traces view. A 'fragment' (its root was given an inferred parent)
-- names the trace it now belongs to, following links up (at most 32 hops: reconstruction_up_32),
-- a 'root' is a trace fragments were joined to. To leave reconstructed traces out of a query:
-- WHERE trace_id NOT IN (SELECT trace_id FROM reconstructed_traces); only the fragments:
-- ... WHERE role = 'fragment'. Where a fragment has several links, this follows its most confident
-- one (the embedded store follows every one and names the deepest trace reached). reconstruction_up_32
-- is read once (each read runs its 31 joins): every row gives its fragment's row and its ancestor's,
-- and a trace that is some link's fragment is a fragment; else it is a root, with the lowest
-- confidence of the fragments joined to it.
CREATE VIEW IF NOT EXISTS {reconstructed_view} {on_cluster} AS
SELECT
    lower(hex(t))                                   AS trace_id,
    lower(hex(if(is_fragment = 1, up_to, t)))       AS reconstructed_trace_id,
    if(is_fragment = 1, 'fragment', 'root')         AS role,
    if(is_fragment = 1, up_hops, toUInt32(0))       AS hops,
    if(is_fragment = 1, up_confidence, least_confidence) AS min_confidence
FROM (
    SELECT t, max(fragment_row) AS is_fragment, argMax(a, fragment_row) AS up_to, argMax(h, fragment_row) AS up_hops,
           argMax(c, fragment_row) AS up_confidence, min(c) AS least_confidence
    FROM (
        SELECT arrayJoin([1, 0]) AS fragment_row, if(fragment_row = 1, fragment, ancestor) AS t, ancestor AS a,
               hops AS h, min_confidence AS c
        FROM {up_32}
    ) AS both_ends
    GROUP BY t
) AS per_trace
