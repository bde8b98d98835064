-- Prepended before the summaries head when an analysis includes reconstructed traces and the store
-- has inferred links (analytics.py; docs/reconstruction.md): `span_data` is shadowed by the spans
-- as reconstruction joins them. A fragment's spans take the trace id of the trace it was joined to
-- (reconstructed_traces), and its root span takes its inferred parent, so every analysis after
-- this head sees whole requests. Only this query's copy changes; the stored spans never do.
-- (main.span_data is the table; the unqualified name below it is this CTE.)
-- `fragment` is read once: one row per fragment (its most confident link if it has several). The
-- spans of other traces pass through an anti-join whose hash table is the fragments', and the
-- fragments' spans come from an inner join written fragment-first: as one LEFT JOIN, the planner
-- built its hash table on the spans (all 200k of them, at each read of span_data) and the analyses
-- ran out of 128 MB.
WITH RECURSIVE fragment AS MATERIALIZED (
    SELECT hash(r.fragment) AS h, r.root, l.child_span_id, l.parent_span_id
    FROM (SELECT unhex(trace_id) AS fragment, unhex(reconstructed_trace_id) AS root
          FROM reconstructed_traces WHERE role = 'fragment') r
    JOIN (SELECT child_trace_id, arg_max(child_span_id, confidence) AS child_span_id,
                 arg_max(parent_span_id, confidence) AS parent_span_id
          FROM main.inferred_link_data GROUP BY child_trace_id) l ON l.child_trace_id = r.fragment
),
span_data AS NOT MATERIALIZED (
    SELECT * FROM main.span_data WHERE hash(trace_id) NOT IN (SELECT h FROM fragment)
    UNION ALL
    SELECT s.* REPLACE (
        f.root AS trace_id,
        CASE WHEN s.parent_span_id IS NULL AND s.span_id = f.child_span_id THEN f.parent_span_id
             ELSE s.parent_span_id END AS parent_span_id)
    FROM fragment f JOIN main.span_data s ON hash(s.trace_id) = f.h
),
