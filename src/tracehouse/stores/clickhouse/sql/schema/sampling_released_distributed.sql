-- On a cluster: sharded by trace id, like the spans, so a trace's sampling rows meet on one shard.
CREATE TABLE IF NOT EXISTS {released} {on_cluster} AS {released_local}
ENGINE = Distributed({cluster}, {database_name}, sampling_released_local, cityHash64(trace_id))
