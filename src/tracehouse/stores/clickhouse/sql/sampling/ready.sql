-- Held traces that are due for a decision, oldest first: the root arrived at least {after_root} ns
-- ago, or the first span {max_wait} ns ago, or {max_spans} spans are held, or the trace was decided
-- already within the decision cache (its late spans follow that decision at once). Released rows
-- (sampling_released_local) are not held. On a cluster the inner query runs on every shard, and its
-- subqueries read that shard's local tables: a trace's held rows, releases and decisions are there.
SELECT lower(hex(trace_id)) AS id, spans
FROM (
    SELECT trace_id,
           min(received_unix_nano)                            AS first_seen,
           maxIf(received_unix_nano, isNull(parent_span_id))  AS root_seen,
           countIf(isNull(parent_span_id))                    AS roots,
           count()                                            AS spans,
           max(trace_id IN (SELECT trace_id FROM {decisions_local}
                            WHERE decided_unix_nano >= {cache_since})) AS decided
    FROM {held}
    WHERE
-- include: sampling/_unreleased
    GROUP BY trace_id
) AS h
WHERE decided = 1
   OR (roots > 0 AND root_seen <= {now} - {after_root})
   OR first_seen <= {now} - {max_wait}
   OR spans >= {max_spans}
ORDER BY first_seen, id
LIMIT {limit}
