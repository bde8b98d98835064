-- On a cluster: system.mutations of one replica of every shard, to wait for a retention delete.
CREATE TABLE IF NOT EXISTS {mutations} {on_cluster} AS system.mutations
ENGINE = Distributed({cluster}, system, mutations)
