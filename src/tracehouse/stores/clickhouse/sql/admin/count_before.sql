-- The spans delete_before would delete ({spare}: see admin/delete_before.sql). The pins' subquery
-- names the local table: on a cluster it runs on each shard beside that shard's spans.
SELECT count() FROM {span_data} FINAL WHERE start_time_unix_nano < {cutoff} {spare}
