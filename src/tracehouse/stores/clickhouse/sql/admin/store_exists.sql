-- Whether every table and view of the store exists on this server (the last one created is a view).
SELECT count() = 1 + 3 + if({cluster_name} = '', 0, 3)
FROM system.tables
WHERE database = {database_name}
  AND name IN ('span_data_local', 'span_data', 'cluster_parts', 'cluster_mutations', 'spans', 'traces', 'edges')
