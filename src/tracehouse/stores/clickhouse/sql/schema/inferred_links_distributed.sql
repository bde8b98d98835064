-- On a cluster: a link goes to the shard of its child's trace.
CREATE TABLE IF NOT EXISTS {links} {on_cluster} AS {links_local}
ENGINE = Distributed({cluster}, {database_name}, inferred_links_local, cityHash64(child_trace_id))
