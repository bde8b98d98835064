(
    -- The window's spans as reconstruction joins them (reconstructed=include or only, with links;
    -- reconstructed.py puts this subquery wherever an analysis reads the span table or the search
    -- index): a fragment's spans take the trace id of the trace it now belongs to
    -- (reconstruction_up_32, as the reconstructed_traces view), and its root span (the child of its
    -- most confident link) takes that link's parent span; other spans pass as stored. {only_traces}:
    -- for reconstructed=only, the filter that keeps the traces reconstruction joined
    -- (_reconstructed_only_stored.sql), else nothing (a GLOBAL IN runs its subquery even when an OR
    -- makes it moot). The span table is read on every shard (FINAL: each
    -- span once before merges) and the fragments' map is computed once and sent to each (GLOBAL):
    -- on a cluster a fragment and the trace it joins may be on different shards, so the analysis
    -- then runs on the initiator, over the joined spans of the window.
    SELECT
        if(matched = 1, joined_trace, stored_trace)                                      AS trace_id,
        span_id,
        if(matched = 1 AND isNull(stored_parent) AND span_id = child_span,
           toNullable(parent_span), stored_parent)                                       AS parent_span_id,
        service_name, span_name, span_kind, start_time_unix_nano, duration_ns, status_code,
        attributes, resource_attributes
    FROM (
        SELECT trace_id AS stored_trace, span_id, parent_span_id AS stored_parent, service_name, span_name,
               span_kind, start_time_unix_nano, duration_ns, status_code, attributes, resource_attributes,
               matched, joined_trace, child_span, parent_span
        FROM {span_data} FINAL
        GLOBAL ANY LEFT JOIN (
            SELECT fragment AS trace_id, toUInt8(1) AS matched, ancestor AS joined_trace, child_span, parent_span
            FROM {up_32}
            ANY INNER JOIN (
                SELECT ct AS fragment, argMax(cs, (conf, pt)) AS child_span, argMax(ps, (conf, pt)) AS parent_span
                FROM (
                    SELECT child_trace_id AS ct, child_span_id AS cs, argMax(parent_trace_id, version) AS pt,
                           argMax(parent_span_id, version) AS ps, argMax(confidence, version) AS conf,
                           argMax(deleted, version) AS gone
                    FROM {links}
                    GROUP BY ct, cs, child_start_time_unix_nano
                ) AS latest
                WHERE gone = 0
                GROUP BY ct
            ) AS best USING fragment
        ) AS fragments USING trace_id
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          {only_traces}
    ) AS stored
) AS joined_spans
