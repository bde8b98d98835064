-- Held traces that are due for a decision, oldest first: the root arrived at least $after_root ago,
-- or the first span $max_wait ago, or $max_spans spans are held, or the trace was decided already
-- (within the decision cache: its late spans follow that decision at once).
WITH held AS (
    SELECT trace_id,
           min(received_unix_nano)                                          AS first_seen,
           max(received_unix_nano) FILTER (WHERE parent_span_id IS NULL)    AS root_seen,
           count(*)                                                         AS spans
    FROM sampling_held_span
    GROUP BY trace_id
),
known AS (
    SELECT DISTINCT trace_id FROM sampling_decision WHERE decided_unix_nano >= $cache_since
)
SELECT h.trace_id, h.spans
FROM held h
LEFT JOIN known k ON k.trace_id = h.trace_id
WHERE k.trace_id IS NOT NULL
   OR h.root_seen <= $now - $after_root
   OR h.first_seen <= $now - $max_wait
   OR h.spans >= $max_spans
ORDER BY h.first_seen
LIMIT $limit;
