-- The search index: each span's searchable facts, ordered by (service, start time), so a search by
-- service over a time window reads one primary-key range instead of every span of the window's days
-- (the span table is ordered by trace id, for trace-by-id reads). A search with no service still
-- prunes by start time: with few services, most granules hold one service, and the index narrows
-- each one's time range. Fed by span_index_mv from every insert into the span table; a span re-sent
-- before a merge appears twice here, which candidate lists (DISTINCT trace ids) do not mind.
CREATE TABLE IF NOT EXISTS {index_local} {on_cluster} (
    service_name         String,
    start_time_unix_nano Int64,
    span_name            String,
    span_kind            UInt8,
    duration_ns          Int64,
    status_code          UInt8,
    trace_id             FixedString(16)
) ENGINE = {index_engine}
PARTITION BY toDate(intDiv(start_time_unix_nano, 1000000000))
ORDER BY (service_name, start_time_unix_nano)
