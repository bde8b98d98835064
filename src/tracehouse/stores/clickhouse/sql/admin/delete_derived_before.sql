-- Retention of the search index and the per-trace summaries: index rows of spans before the cutoff,
-- and summary hours wholly before it (the cutoff's own hour stays, and searches from it on read the
-- spans, read/oldest_bucket.sql), and the service map's hour summaries before the cutoff's hour (a
-- summary is only a cache: an hour whose calls change is summarised again).
ALTER TABLE {index_local} {on_cluster} DELETE WHERE start_time_unix_nano < {cutoff};
ALTER TABLE {summary_local} {on_cluster} DELETE WHERE bucket < intDiv({cutoff}, {bucket_ns});
ALTER TABLE {hours_local} {on_cluster} DELETE WHERE hour < intDiv({cutoff}, {bucket_ns})
