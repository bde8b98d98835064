-- Insert a decoded batch (the Arrow table registered as `batch`: model.SPAN_BATCH_SCHEMA with
-- resource_attributes replaced by resource_id, whose resources write/insert_resources.sql adds; no
-- (trace_id, span_id, start time) twice: DuckDBStore.write_spans removes such repeats first, with
-- write/distinct_spans.sql and write/first_of_each_span.sql), skipping
-- spans already stored. A resent span has the same trace_id, span_id and start time, so the
-- duplicate check reads only the rows whose start_time lies in this batch's range ($min_start ..
-- $max_start): zone maps skip every other row group, which keeps the check cheap on a large store.
-- (Not a DISTINCT ON here: it held every column of the batch in a hash table, which ran out of
-- the store's 128 MB once batches reached a row group.)
INSERT INTO span_data
WITH incoming AS (
    SELECT * FROM batch
),
existing AS (
    SELECT trace_id, span_id, start_time
    FROM span_data
    WHERE start_time BETWEEN make_timestamp_ns($min_start) AND make_timestamp_ns($max_start)
)
SELECT
    i.trace_id,
    i.span_id,
    i.parent_span_id,
    i.trace_state,
    i.service_name,
    i.span_name,
    (['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'][i.span_kind + 1])::span_kind_t,
    make_timestamp_ns(i.start_time_unix_nano),
    greatest(i.end_time_unix_nano - i.start_time_unix_nano, 0),
    (['UNSET', 'OK', 'ERROR'][i.status_code + 1])::status_code_t,
    i.status_message,
    i.attributes::JSON::VARIANT,
    i.resource_id,
    i.events::JSON::VARIANT,
    i.links::JSON::VARIANT,
    i.scope_name,
    i.scope_version,
    i.flags,
    i.scope_attributes::JSON::VARIANT,
    i.scope_schema_url,
    i.resource_schema_url
FROM incoming i
ANTI JOIN existing e
    ON e.trace_id = i.trace_id AND e.span_id = i.span_id AND e.start_time = make_timestamp_ns(i.start_time_unix_nano);
