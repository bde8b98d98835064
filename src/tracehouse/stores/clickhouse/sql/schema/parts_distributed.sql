-- On a cluster: system.parts of one replica of every shard, for the store's size on disk.
CREATE TABLE IF NOT EXISTS {parts} {on_cluster} AS system.parts
ENGINE = Distributed({cluster}, system, parts)
