-- A mutation: ClickHouse rewrites the parts that hold such spans in the background; the store
-- waits for it (admin/pending_mutations.sql) so the spans are gone for readers on return.
ALTER TABLE {span_data_local} {on_cluster} DELETE WHERE start_time_unix_nano < {cutoff}
