-- On a cluster: an hour's summary rows go to one shard (sharded by the hour), in one INSERT.
CREATE TABLE IF NOT EXISTS {hours} {on_cluster} AS {hours_local}
ENGINE = Distributed({cluster}, {database_name}, dependency_hours_local, cityHash64(hour))
