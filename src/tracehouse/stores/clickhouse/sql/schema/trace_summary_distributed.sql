-- On a cluster: the per-trace summaries of every shard (a trace's rows are all on its shard).
CREATE TABLE IF NOT EXISTS {summary} {on_cluster} AS {summary_local}
ENGINE = Distributed({cluster}, {database_name}, trace_summary_local, cityHash64(trace_id))
