-- Appended to {narrowing} by a sample's candidates (sample_candidates.sql): the traces with a span
-- that started in one of the slices ({slices}: start-time ranges OR-ed, built by the store from
-- numbers), from this shard's search index.
AND trace_id IN (
        SELECT trace_id FROM {index_local}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns} AND ({slices})
)
