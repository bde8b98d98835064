-- What users query (`tracehouse sql`): one row per live inferred link, ids as hex, as the embedded
-- store's inferred_links view. The latest version of each child's row wins and tombstones are left
-- out, by argMax over the versions (not FINAL, whose later filter on `deleted` a server may move
-- before the dedup). 18.16 has no DateTime64: child_start_time is whole seconds, and the exact
-- start is child_start_time_unix_nano; inferred_at is the version's second. (The inner names differ
-- from the columns': 18.16 would read an alias inside the other aggregates.)
CREATE VIEW IF NOT EXISTS {links_view} {on_cluster} AS
SELECT
    lower(hex(ct))                              AS child_trace_id,
    lower(hex(cs))                              AS child_span_id,
    toDateTime(intDiv(cst, 1000000000))         AS child_start_time,
    lower(hex(pt))                              AS parent_trace_id,
    lower(hex(ps))                              AS parent_span_id,
    conf                                        AS confidence,
    how                                         AS method,
    nullIf(child_svc, '')                       AS child_service,
    nullIf(parent_svc, '')                      AS parent_service,
    toDateTime(intDiv(v, 1000000000))           AS inferred_at,
    cst                                         AS child_start_time_unix_nano
FROM (
    SELECT
        child_trace_id AS ct, child_span_id AS cs, child_start_time_unix_nano AS cst,
        argMax(parent_trace_id, version) AS pt,
        argMax(parent_span_id, version) AS ps,
        argMax(confidence, version) AS conf,
        argMax(method, version) AS how,
        argMax(child_service, version) AS child_svc,
        argMax(parent_service, version) AS parent_svc,
        max(version) AS v,
        argMax(deleted, version) AS gone
    FROM {links}
    GROUP BY ct, cs, cst
) AS latest
WHERE gone = 0
