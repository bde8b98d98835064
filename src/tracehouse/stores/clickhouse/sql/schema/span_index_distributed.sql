-- On a cluster: the search index of every shard (each shard's index holds its own traces' spans).
CREATE TABLE IF NOT EXISTS {index} {on_cluster} AS {index_local}
ENGINE = Distributed({cluster}, {database_name}, span_index_local, cityHash64(trace_id))
