-- Whether the cluster's tables should be replicated: some shard of the cluster has two replicas.
SELECT max(replica_num) > 1 FROM system.clusters WHERE cluster = {cluster_name}
