-- On a cluster: the table every tracehouse instance reads and writes. Rows go to the shard of
-- cityHash64(trace_id), so a trace lives on one shard and per-trace work (summaries, the parent/
-- child join of the service map) runs shard-local.
CREATE TABLE IF NOT EXISTS {span_data} {on_cluster} AS {span_data_local}
ENGINE = Distributed({cluster}, {database_name}, span_data_local, cityHash64(trace_id))
