-- On a cluster: the calls of every shard (a call lives on the shard of its trace, beside its spans).
CREATE TABLE IF NOT EXISTS {calls} {on_cluster} AS {calls_local}
ENGINE = Distributed({cluster}, {database_name}, service_calls_local, cityHash64(trace_id))
