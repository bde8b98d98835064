-- Inferred links (reconstruction, docs/reconstruction.md): beside the spans, never in them. Created at
-- every writable open with IF NOT EXISTS, so it adds to any store of the current schema version
-- without a version change; a store opened read-only before the first writable open simply has no
-- links yet (readers check for the table).
CREATE TABLE IF NOT EXISTS inferred_link_data (
    child_trace_id   BLOB NOT NULL,          -- the parentless SERVER/CONSUMER span
    child_span_id    BLOB NOT NULL,
    child_start_time TIMESTAMP_NS NOT NULL,  -- the window a run replaces is chosen on this
    parent_trace_id  BLOB NOT NULL,          -- the CLIENT/PRODUCER span proposed as its caller
    parent_span_id   BLOB NOT NULL,
    confidence       DOUBLE NOT NULL,        -- calibrated probability that the link is right
    method           VARCHAR NOT NULL,
    child_service    VARCHAR,
    parent_service   VARCHAR,
    inferred_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- One row per inferred link, ids as hex like the spans view.
CREATE OR REPLACE VIEW inferred_links AS
SELECT
    lower(hex(child_trace_id))   AS child_trace_id,
    lower(hex(child_span_id))    AS child_span_id,
    child_start_time,
    lower(hex(parent_trace_id))  AS parent_trace_id,
    lower(hex(parent_span_id))   AS parent_span_id,
    confidence,
    method,
    child_service,
    parent_service,
    inferred_at
FROM inferred_link_data;

-- Every trace that reconstruction joined with another: a 'fragment' (its root was given an
-- inferred parent) names the trace it now belongs to (following links up, at most 32 hops); a
-- 'root' is a trace fragments were joined to. To leave reconstructed traces out of a query:
-- WHERE trace_id NOT IN (SELECT trace_id FROM reconstructed_traces); only the fragments:
-- ... WHERE role = 'fragment'.
CREATE OR REPLACE VIEW reconstructed_traces AS
WITH RECURSIVE up(fragment, ancestor, hops, min_confidence) AS (
    SELECT child_trace_id, parent_trace_id, 1, confidence FROM inferred_link_data
    UNION ALL
    SELECT up.fragment, l.parent_trace_id, up.hops + 1, least(up.min_confidence, l.confidence)
    FROM up JOIN inferred_link_data l ON l.child_trace_id = up.ancestor
    WHERE up.hops < 32
),
fragments AS (
    SELECT fragment, arg_max(ancestor, hops) AS reconstructed, max(hops) AS hops, min(min_confidence) AS min_confidence
    FROM up GROUP BY fragment
)
SELECT lower(hex(fragment)) AS trace_id, lower(hex(reconstructed)) AS reconstructed_trace_id, 'fragment' AS role,
       hops, min_confidence
FROM fragments
UNION ALL
SELECT lower(hex(reconstructed)), lower(hex(reconstructed)), 'root', 0, min(min_confidence)
FROM fragments
WHERE reconstructed NOT IN (SELECT fragment FROM fragments)
GROUP BY reconstructed;
