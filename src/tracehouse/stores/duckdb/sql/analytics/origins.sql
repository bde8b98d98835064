-- Origins (appended to _selection.sql): calls into $target_service (optionally only $target_operation), that is its
-- spans whose parent belongs to another service (or that are roots), grouped by the chain of calls
-- that led to them. The chain is found by walking up from each call, parent by parent (at most 64
-- levels): the walk starts from the few target spans, so it stays small even on a large store.
, targets AS MATERIALIZED (
    SELECT c.t, hash(c.trace_id, c.span_id) AS k, hash(c.trace_id, c.parent_span_id) AS pk,
           c.parent_span_id IS NULL AS is_root, c.span_name AS operation, c.d, c.failed
    FROM window_spans c
    WHERE c.service_name = $target_service
      AND ($target_operation::VARCHAR IS NULL OR c.span_name = $target_operation)
      AND c.t IN (SELECT t FROM selected)
),
-- Only the spans of traces that call the service take part in the walk, materialised once: the walk
-- joins them at every level, and all 5M spans would not fit in 256 MB.
keyed AS MATERIALIZED (
    SELECT k, pk, service_name, service_name || ':' || span_name AS label
    FROM window_spans
    WHERE t IN (SELECT t FROM targets)
),
walk(target, cur, chain, parent_service, depth) AS (
    SELECT k, pk, ''::VARCHAR, NULL::VARCHAR, 0 FROM targets WHERE NOT is_root
    UNION ALL
    SELECT w.target, p.pk,
           CASE WHEN w.depth = 0 THEN p.label ELSE p.label || ' > ' || w.chain END,
           CASE WHEN w.depth = 0 THEN p.service_name ELSE w.parent_service END,
           w.depth + 1
    FROM walk w JOIN keyed p ON p.k = w.cur
    WHERE w.depth < 64
),
chains AS (
    SELECT target, arg_max(chain, depth) AS chain, arg_max(parent_service, depth) AS parent_service
    FROM walk WHERE depth > 0 GROUP BY target
),
calls AS (
    SELECT tg.t, tg.operation, tg.d, tg.failed,
           coalesce(ch.chain, '') AS chain,
           CASE WHEN tg.is_root THEN $target_service || ':' || tg.operation
                ELSE split_part(coalesce(ch.chain, '?'), ' > ', 1) END AS entry
    FROM targets tg
    LEFT JOIN chains ch ON ch.target = tg.k
    -- Spans called from their own service (internal spans, nested handlers) are not calls into it.
    WHERE tg.is_root OR ch.parent_service IS DISTINCT FROM $target_service
)
SELECT
    c.entry,
    c.chain,
    c.operation,
    count(*)                                        AS calls,
    count(*) FILTER (WHERE c.failed)                AS error_calls,
    quantile_cont(c.d, 0.50)::DOUBLE                AS p50_ns,
    quantile_cont(c.d, 0.95)::DOUBLE                AS p95_ns,
    lower(hex(arg_max(s.trace_id, (c.d, s.trace_id)))) AS example_trace_id   -- the slowest call; ties by id
FROM calls c
JOIN selected s USING (t)
GROUP BY c.entry, c.chain, c.operation
ORDER BY calls DESC, c.entry, c.chain
