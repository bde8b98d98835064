-- Prepended before the summaries head when an analysis includes reconstructed traces and the store
-- has inferred links (analytics.py; docs/reconstruction.md): `span_data` is shadowed by the spans
-- as reconstruction joins them. A fragment's spans take the trace id of the trace it was joined to
-- (reconstructed_traces), and its root span takes its inferred parent, so every analysis after
-- this head sees whole requests. Only this query's copy changes; the stored spans never do.
-- (main.span_data is the table; the unqualified name below it is this CTE.)
WITH RECURSIVE fragment_root AS MATERIALIZED (
    SELECT unhex(trace_id) AS fragment, unhex(reconstructed_trace_id) AS root
    FROM reconstructed_traces WHERE role = 'fragment'
),
span_data AS NOT MATERIALIZED (
    SELECT s.* REPLACE (
        coalesce(f.root, s.trace_id) AS trace_id,
        CASE WHEN s.parent_span_id IS NULL THEN l.parent_span_id ELSE s.parent_span_id END AS parent_span_id)
    FROM main.span_data s
    LEFT JOIN fragment_root f ON f.fragment = s.trace_id
    LEFT JOIN main.inferred_link_data l
        ON s.parent_span_id IS NULL AND l.child_trace_id = s.trace_id AND l.child_span_id = s.span_id
),
