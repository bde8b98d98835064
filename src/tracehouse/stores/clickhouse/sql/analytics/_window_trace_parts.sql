        -- The selected traces' figures in the window, in parts to merge by trace (per_trace key {key}):
        -- the per-trace summaries of the hours wholly inside the window (buckets after {first_bucket}
        -- and before {last_bucket}: every span they count started in the window), and, for the
        -- window's partial first and last hours ([{start_ns}, {edge_end}) and [{edge_start},
        -- {end_ns})), the search index's spans, as the same aggregate states. Merged by trace, they
        -- give each trace's first start, last end and errors over its spans in the window, without
        -- reading the span table. Both tables are sharded by trace id: on a cluster each shard holds
        -- its traces' rows. {narrowing}: the filter's service, operation and attributes ('' = none).
        SELECT {key} AS t, start_ns AS st, end_ns AS en, errors AS er
        FROM {summary}
        WHERE bucket > {first_bucket} AND bucket < {last_bucket}
          {narrowing}
        UNION ALL
        SELECT {key} AS t, minState(start_time_unix_nano) AS st, maxState(start_time_unix_nano + duration_ns) AS en,
               countIfState(status_code = 2) AS er
        FROM {index}
        WHERE ((start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {edge_end})
            OR (start_time_unix_nano >= {edge_start} AND start_time_unix_nano < {end_ns}))
          {narrowing}
        GROUP BY t
