-- A mutation: ClickHouse rewrites the parts that hold such spans in the background; the store
-- waits for it (admin/pending_mutations.sql) so the spans are gone for readers on return. {spare}
-- is either nothing (the size cap) or the clause that spares pinned traces (admin/_spare_pins.sql):
-- on a cluster each shard reads its own pins, next to its traces.
ALTER TABLE {span_data_local} {on_cluster} DELETE WHERE start_time_unix_nano < {cutoff} {spare}
