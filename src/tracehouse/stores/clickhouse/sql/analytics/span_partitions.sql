-- The span table's partitions (a day of start times each, in the server's time zone) as start-time
-- ranges [from_ns, to_ns), and whether each is known to hold no copy of a span: a single active
-- part made by a merge (level > 0), which ReplacingMergeTree wrote with each span key once. A
-- partition of several parts, or of one part as inserted, may hold copies (window_copies.sql
-- counts them). On a cluster the parts of every shard count together: a partition is then never
-- known clean, and the count runs.
SELECT
    toInt64(toUInt32(toDateTime(toDate(partition)))) * 1000000000      AS from_ns,
    toInt64(toUInt32(toDateTime(toDate(partition) + 1))) * 1000000000  AS to_ns,
    count() = 1 AND min(level) > 0                                     AS clean
FROM {parts}
WHERE database = {database_name} AND active AND table = 'span_data_local'
GROUP BY partition
