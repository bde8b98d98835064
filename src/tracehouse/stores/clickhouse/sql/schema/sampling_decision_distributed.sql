-- On a cluster: sharded by trace id, like the spans, so a trace's sampling rows meet on one shard.
CREATE TABLE IF NOT EXISTS {decisions} {on_cluster} AS {decisions_local}
ENGINE = Distributed({cluster}, {database_name}, sampling_decision_local, cityHash64(trace_id))
