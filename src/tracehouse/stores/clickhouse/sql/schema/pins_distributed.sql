-- On a cluster: pins go to the shard of their trace.
CREATE TABLE IF NOT EXISTS {pins} {on_cluster} AS {pins_local}
ENGINE = Distributed({cluster}, {database_name}, retention_pins_local, cityHash64(trace_id))
