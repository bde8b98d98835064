-- Fold the spans of the registered `batch` that write/insert_spans.sql is about to store into
-- trace_summary_data. Run it in the same transaction, just BEFORE insert_spans, with the same
-- $min_start/$max_start: it picks the new spans exactly as insert_spans does (the batch holds no
-- repeats, and spans already stored are left out), so a resent batch changes no count.
MERGE INTO trace_summary_data AS s
USING (
    WITH incoming AS (
        SELECT * FROM batch
    ),
    existing AS (
        SELECT trace_id, span_id, start_time
        FROM span_data
        WHERE start_time BETWEEN make_timestamp_ns($min_start) AND make_timestamp_ns($max_start)
    ),
    to_summarise AS (   -- the new spans
        SELECT
            i.trace_id,
            i.parent_span_id,
            i.service_name,
            i.span_name,
            i.start_time_unix_nano                                       AS start_ns,
            greatest(i.end_time_unix_nano, i.start_time_unix_nano)       AS end_ns,
            i.status_code = 2                                            AS failed   -- STATUS_CODE_ERROR
        FROM incoming i
        ANTI JOIN existing e
            ON e.trace_id = i.trace_id AND e.span_id = i.span_id
            AND e.start_time = make_timestamp_ns(i.start_time_unix_nano)
    ),
-- include: write/_summaries_of
    SELECT * FROM summaries
) AS n
ON s.trace_id = n.trace_id
WHEN MATCHED THEN UPDATE SET
    start_time = make_timestamp_ns(least(epoch_ns(s.start_time), n.start_ns)),
    end_unix_nano = greatest(s.end_unix_nano, n.end_ns),
    duration_ns = greatest(s.end_unix_nano, n.end_ns) - least(epoch_ns(s.start_time), n.start_ns),
    span_count = s.span_count + n.span_count,
    error_count = s.error_count + n.error_count,
    root_is_missing = s.root_is_missing AND n.root_is_missing,
    root_start_unix_nano = CASE WHEN (n.root_is_missing, n.root_start) < (s.root_is_missing, s.root_start_unix_nano)
                                THEN n.root_start ELSE s.root_start_unix_nano END,
    root_service = CASE WHEN (n.root_is_missing, n.root_start) < (s.root_is_missing, s.root_start_unix_nano)
                        THEN n.root_service ELSE s.root_service END,
    root_span_name = CASE WHEN (n.root_is_missing, n.root_start) < (s.root_is_missing, s.root_start_unix_nano)
                          THEN n.root_span_name ELSE s.root_span_name END,
    spans_per_service = map_from_entries(list_transform(
        list_distinct(map_keys(s.spans_per_service) || map_keys(n.services)),
        lambda k: {'key': k, 'value': coalesce(s.spans_per_service[k], 0) + coalesce(n.services[k], 0)}))
WHEN NOT MATCHED THEN INSERT VALUES (
    n.trace_id, make_timestamp_ns(n.start_ns), n.end_ns, n.end_ns - n.start_ns, n.span_count, n.error_count,
    n.root_is_missing, n.root_start, n.root_service, n.root_span_name, n.services
);
