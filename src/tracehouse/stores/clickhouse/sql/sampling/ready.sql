-- Held traces that are due for a decision, oldest first: the root arrived at least {after_root} ns
-- ago, or the first span {max_wait} ns ago, or the trace was decided already within the decision
-- cache (its late spans follow that decision at once): `due_anyway`; or, maybe, at the size cap:
-- its held rows reach {max_spans}. Rows bound spans from above (a batch the spool replays after a
-- crash is held again under another hold_id), so the store then counts the spans of those traces
-- alone (capped_spans.sql): uniqExact here, over every held trace, cost ~1.5x the time and ~2.5x the
-- memory of this query. With each trace its held rows: what a pass reads for it (its budget).
-- Released rows (sampling_released_local) are not held. On a cluster the inner query runs on every
-- shard, and its subqueries read that shard's local tables: a trace's held rows, releases and
-- decisions are there.
SELECT lower(hex(trace_id)) AS id, held_rows,
       (decided = 1 OR (roots > 0 AND root_seen <= {now} - {after_root}) OR first_seen <= {now} - {max_wait})
           AS due_anyway
FROM (
    SELECT trace_id,
           min(received_unix_nano)                            AS first_seen,
           maxIf(received_unix_nano, isNull(parent_span_id))  AS root_seen,
           countIf(isNull(parent_span_id))                    AS roots,
           count()                                            AS held_rows,
           max(trace_id IN (SELECT trace_id FROM {decisions_local}
                            WHERE decided_unix_nano >= {cache_since})) AS decided
    FROM {held}
    WHERE
-- include: sampling/_unreleased
    GROUP BY trace_id
) AS h
WHERE due_anyway OR held_rows >= {max_spans}
ORDER BY first_seen, id
LIMIT {limit}
