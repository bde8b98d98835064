-- Prepended before the summaries head when an analysis looks only at reconstructed traces
-- (analytics.py): `span_data` is shadowed by the spans of the traces reconstruction joined: the
-- traces fragments were joined to, as stored, and each fragment's spans under the trace it was
-- joined to, its root under its inferred parent (as in _reconstructed_include.sql, whose comments
-- say why the view is read once and the join is written this way).
WITH RECURSIVE joined AS MATERIALIZED (
    SELECT unhex(trace_id) AS trace_id, unhex(reconstructed_trace_id) AS root, role
    FROM reconstructed_traces
),
fragment AS MATERIALIZED (
    SELECT hash(r.trace_id) AS h, r.root, l.child_span_id, l.parent_span_id
    FROM (SELECT trace_id, root FROM joined WHERE role = 'fragment') r
    JOIN (SELECT child_trace_id, arg_max(child_span_id, confidence) AS child_span_id,
                 arg_max(parent_span_id, confidence) AS parent_span_id
          FROM main.inferred_link_data GROUP BY child_trace_id) l ON l.child_trace_id = r.trace_id
),
span_data AS NOT MATERIALIZED (
    SELECT * FROM main.span_data WHERE hash(trace_id) IN (SELECT hash(trace_id) FROM joined WHERE role = 'root')
    UNION ALL
    SELECT s.* REPLACE (
        f.root AS trace_id,
        CASE WHEN s.parent_span_id IS NULL AND s.span_id = f.child_span_id THEN f.parent_span_id
             ELSE s.parent_span_id END AS parent_span_id)
    FROM fragment f JOIN main.span_data s ON hash(s.trace_id) = f.h
),
