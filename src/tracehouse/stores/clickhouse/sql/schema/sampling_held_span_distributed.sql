-- On a cluster: sharded by trace id, like the spans, so a trace's sampling rows meet on one shard.
CREATE TABLE IF NOT EXISTS {held} {on_cluster} AS {held_local}
ENGINE = Distributed({cluster}, {database_name}, sampling_held_span_local, cityHash64(trace_id))
