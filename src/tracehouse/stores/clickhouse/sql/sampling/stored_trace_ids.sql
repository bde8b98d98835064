-- Traces stored whose first span started in [{start}, {end}), oldest first (for `tracehouse
-- sampling simulate`). The candidates come from the local table: on a cluster, per shard.
SELECT lower(hex(trace_id)) AS id, min(start_time_unix_nano) AS first_start
FROM {span_data}
WHERE trace_id IN (SELECT trace_id FROM {span_data_local}
                   WHERE start_time_unix_nano >= {start} AND start_time_unix_nano < {end})
GROUP BY trace_id
HAVING first_start >= {start} AND first_start < {end}
ORDER BY first_start, id
