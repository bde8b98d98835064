-- Origins (appended to _selection.sql): calls into $target_service (optionally only $target_operation),
-- that is its spans whose parent belongs to another service (or that are roots), grouped by the chain
-- of calls that led to them (root first) and the request's entry point.
--
-- Memory is what shapes this query: a busy service has hundreds of thousands of calls (fizzer in the
-- 1M-trace benchmark: 400,000), and the store may use 128 MB. A recursive walk that joins its
-- frontier to the spans builds its hash table on the spans (DuckDB does not swap sides inside a
-- recursive CTE): 2M spans of the calling traces did not fit in 256 MB. So the walk goes up one
-- level per CTE (step_1 .. step_6), each a plain join whose hash table is the frontier (at most one
-- row per call) probed by one scan of the spans; a level whose frontier is empty costs nothing.
-- Chains are carried as hashes of their labels, and only one example call per group is walked again
-- to spell its chain out. Calls still below six levels finish in a recursive walk over the spans of
-- their own traces only. fizzer's 400,000 calls: 0.9 s at 128 MB (the recursive walk: out of memory
-- at 256 MB).
-- `nodes` (the spans a call climbs through) comes from _origin_nodes_all.sql or, when analytics.py
-- samples the traces ($sample_below: those whose hash is below it), _origin_nodes_sample.sql.
, targets AS MATERIALIZED (
    SELECT c.t, c.k, c.pk, c.parent_span_id IS NULL AS is_root, c.span_name AS operation, c.d, c.failed, c.trace_id
    FROM selected_spans c
    WHERE c.service_name = $target_service
      AND ($target_operation::VARCHAR IS NULL OR c.span_name = $target_operation)
      AND ($sample_below::UBIGINT IS NULL OR c.t < $sample_below)
),
-- One row per call still climbing: `cur` is the span to look up next; `chain` hashes the labels met
-- so far and `entry` is the last one met; `internal`: the call's parent is in the same service.
-- A level ends a call's climb when it reaches a root (`done`) or its parent is not in the window
-- (`n.k IS NULL`: the chain is what was found so far).
step_0 AS NOT MATERIALIZED (
    SELECT k AS target, pk AS cur, 0::UBIGINT AS chain, NULL::UBIGINT AS entry, NULL::BOOLEAN AS internal,
           is_root AS done
    FROM targets
),
step_1 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, coalesce(s.internal, n.same_service) AS internal,
           coalesce(n.is_root, true) AS done
    FROM step_0 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
step_2 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, s.internal, coalesce(n.is_root, true) AS done
    FROM step_1 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
step_3 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, s.internal, coalesce(n.is_root, true) AS done
    FROM step_2 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
step_4 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, s.internal, coalesce(n.is_root, true) AS done
    FROM step_3 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
step_5 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, s.internal, coalesce(n.is_root, true) AS done
    FROM step_4 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
step_6 AS MATERIALIZED (
    SELECT s.target, n.pk AS cur, CASE WHEN n.k IS NULL THEN s.chain ELSE hash(n.label, s.chain) END AS chain,
           coalesce(n.label, s.entry) AS entry, s.internal, coalesce(n.is_root, true) AS done
    FROM step_5 s LEFT JOIN nodes n ON n.k = s.cur WHERE NOT s.done
),
-- Deeper calls: the same climb as a recursive walk, over the spans of their traces only.
deep_nodes AS MATERIALIZED (
    SELECT k, pk, is_root, label FROM nodes
    WHERE k IN (SELECT k FROM window_spans WHERE t IN (SELECT tg.t FROM step_6 s JOIN targets tg ON tg.k = s.target WHERE NOT s.done))
),
deep(target, cur, chain, entry, internal, done, depth) AS (
    SELECT target, cur, chain, entry, internal, done, 0 FROM step_6 WHERE NOT done
    UNION ALL
    SELECT d.target, n.pk, CASE WHEN n.k IS NULL THEN d.chain ELSE hash(n.label, d.chain) END,
           coalesce(n.label, d.entry), d.internal, coalesce(n.is_root, true), d.depth + 1
    FROM deep d LEFT JOIN deep_nodes n ON n.k = d.cur
    WHERE NOT d.done AND d.depth < 58
),
climbed AS (
    SELECT target, chain, entry, internal FROM step_0 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_1 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_2 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_3 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_4 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_5 WHERE done
    UNION ALL SELECT target, chain, entry, internal FROM step_6 WHERE done
    UNION ALL SELECT target, arg_max(chain, depth), arg_max(entry, depth), any_value(internal) FROM deep GROUP BY target
),
groups AS (
    SELECT c.entry, c.chain, tg.operation,
           count(*)                                         AS calls,
           count(*) FILTER (WHERE tg.failed)                AS error_calls,
           quantile_cont(tg.d, 0.50)::DOUBLE                AS p50_ns,
           quantile_cont(tg.d, 0.95)::DOUBLE                AS p95_ns,
           arg_max(tg.trace_id, (tg.d, tg.trace_id))        AS example_trace_id,  -- the slowest call; ties by id
           arg_max(tg.k, (tg.d, tg.trace_id))               AS example,
           arg_max(tg.t, (tg.d, tg.trace_id))               AS example_t,
           bool_or(tg.is_root)                              AS is_root
    FROM targets tg JOIN climbed c ON c.target = tg.k
    -- Spans called from their own service (internal spans, nested handlers) are not calls into it.
    WHERE tg.is_root OR c.internal IS DISTINCT FROM true
    GROUP BY c.entry, c.chain, tg.operation
),
-- The chains spelled out, for each group's example call only.
example_nodes AS MATERIALIZED (
    SELECT k, pk, service_name || ':' || span_name AS label
    FROM window_spans WHERE t IN (SELECT example_t FROM groups)
),
named(target, cur, chain, depth) AS (
    SELECT g.example, tg.pk, ''::VARCHAR, 0 FROM groups g JOIN targets tg ON tg.k = g.example WHERE NOT g.is_root
    UNION ALL
    SELECT w.target, n.pk, CASE WHEN w.depth = 0 THEN n.label ELSE n.label || ' > ' || w.chain END, w.depth + 1
    FROM named w JOIN example_nodes n ON n.k = w.cur
    WHERE w.depth < 64
),
names AS (
    SELECT target, arg_max(chain, depth) AS chain FROM named WHERE depth > 0 GROUP BY target
)
SELECT
    CASE WHEN g.is_root THEN $target_service || ':' || g.operation
         ELSE split_part(coalesce(n.chain, '?'), ' > ', 1) END   AS entry,
    coalesce(n.chain, '')                                        AS chain,
    g.operation,
    g.calls,
    g.error_calls,
    g.p50_ns,
    g.p95_ns,
    lower(hex(g.example_trace_id))                               AS example_trace_id
FROM groups g
LEFT JOIN names n ON n.target = g.example
ORDER BY calls DESC, entry, chain
