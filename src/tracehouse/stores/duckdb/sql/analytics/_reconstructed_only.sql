-- Prepended before the summaries head when an analysis looks only at reconstructed traces
-- (analytics.py): `span_data` is shadowed by the spans of the traces reconstruction joined, each
-- fragment under the trace it was joined to, as _reconstructed_include.sql does.
WITH RECURSIVE touched AS MATERIALIZED (   -- once: the recursive view is not re-run for every reference below
    SELECT DISTINCT unhex(trace_id) AS trace_id FROM reconstructed_traces
),
fragment_root AS MATERIALIZED (
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
    WHERE s.trace_id IN (SELECT trace_id FROM touched)
),
