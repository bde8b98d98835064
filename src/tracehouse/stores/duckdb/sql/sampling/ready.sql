-- Held traces that are due for a decision, oldest first, at most $limit: the root arrived at least
-- $after_root ago, or the first span $max_wait ago, or the trace was decided already (within the
-- decision cache: its late spans follow that decision at once), or $max_spans spans are held. With
-- each its held rows: what a pass reads for it (the sampler's per-pass budget).
-- A span counts once towards the cap (trace, span id, start, as in held_facts.sql): a batch the
-- spool replays after a crash is held again, so a trace can hold more rows than spans. Rows bound
-- spans from above, so spans are counted only for the traces among the oldest $limit that are there
-- by their rows alone (rare; one short of the cap in spans leaves its place empty this pass):
-- count(DISTINCT) over every held trace cost 3-10x this whole query (1M held rows).
WITH held AS (
    SELECT trace_id,
           min(received_unix_nano)                                          AS first_seen,
           max(received_unix_nano) FILTER (WHERE parent_span_id IS NULL)    AS root_seen,
           count(*)                                                         AS held_rows
    FROM sampling_held_span
    GROUP BY trace_id
),
known AS (
    SELECT DISTINCT trace_id FROM sampling_decision WHERE decided_unix_nano >= $cache_since
),
-- Materialized: read twice below, and each read would aggregate the whole hold again.
candidates AS MATERIALIZED (
    SELECT trace_id, first_seen, held_rows, due_anyway
    FROM (SELECT h.trace_id, h.first_seen, h.held_rows,
                 k.trace_id IS NOT NULL
                 OR coalesce(h.root_seen <= $now - $after_root, false)     -- NULL: no root held
                 OR h.first_seen <= $now - $max_wait                        AS due_anyway
          FROM held h
          LEFT JOIN known k ON k.trace_id = h.trace_id)
    WHERE due_anyway OR held_rows >= $max_spans
    ORDER BY first_seen
    LIMIT $limit
),
capped AS (
    SELECT trace_id
    FROM (SELECT DISTINCT s.trace_id, s.span_id, s.start_time_unix_nano
          FROM sampling_held_span s
          SEMI JOIN candidates c ON c.trace_id = s.trace_id AND NOT c.due_anyway)
    GROUP BY trace_id
    HAVING count(*) >= $max_spans
)
SELECT c.trace_id, c.held_rows
FROM candidates c
WHERE c.due_anyway OR c.trace_id IN (SELECT trace_id FROM capped)
ORDER BY c.first_seen;
