-- The first step of reconstructed_traces (reconstructed_traces_view.sql): each fragment (a trace
-- whose parentless span has a live inferred link) and the trace its most confident link points to,
-- one hop up. Live links as in inferred_links_view.sql (argMax over the versions, no tombstones).
CREATE VIEW IF NOT EXISTS {up_1} {on_cluster} AS
SELECT ct AS fragment, argMax(pt, (conf, pt)) AS ancestor, toUInt32(1) AS hops, max(conf) AS min_confidence
FROM (
    SELECT child_trace_id AS ct, argMax(parent_trace_id, version) AS pt, argMax(confidence, version) AS conf,
           argMax(deleted, version) AS gone
    FROM {links}
    GROUP BY ct, child_span_id, child_start_time_unix_nano
) AS latest
WHERE gone = 0
GROUP BY ct
