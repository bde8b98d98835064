-- One doubling step of reconstructed_traces (reconstructed_traces_view.sql), without recursion
-- (18.16 has none): {up_next} follows each fragment up twice as many links as {up_previous}, by
-- joining {up_previous} with itself on the ancestor reached so far. Five steps from
-- reconstruction_up_1 reach 32 hops, the embedded store's limit. A fragment whose ancestor is not a
-- fragment (the join finds nothing: further hops 0) stays where it is.
CREATE VIEW IF NOT EXISTS {up_next} {on_cluster} AS
SELECT f AS fragment, if(more = 0, a, b) AS ancestor, h + more AS hops,
       if(more = 0, c, least(c, d)) AS min_confidence
FROM (
    SELECT fragment AS f, ancestor AS a, hops AS h, min_confidence AS c FROM {up_previous}
) AS here
ANY LEFT JOIN (
    SELECT fragment AS a, ancestor AS b, hops AS more, min_confidence AS d FROM {up_previous}
) AS further USING a
