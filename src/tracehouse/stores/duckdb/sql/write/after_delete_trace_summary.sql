-- After admin/delete_before removed the spans that started before $cutoff (same transaction, same
-- $cutoff, $now and $honour_pins; the traces it kept, pinned ones, keep their summaries as they are): drop the summaries of traces that started before the cutoff, and re-summarise from the
-- spans that remain those traces that straddled it. Only spans starting in the straddlers' time
-- band are read, so zone maps keep this cheap.
MERGE INTO trace_summary_data AS s
USING (
    WITH pinned AS (
        SELECT trace_id FROM retention_pin_data
        WHERE $honour_pins AND (keep_until_unix_nano IS NULL OR keep_until_unix_nano > $now)
    ),
    straddling AS (
        SELECT trace_id, end_unix_nano
        FROM trace_summary_data
        WHERE start_time < make_timestamp_ns($cutoff) AND end_unix_nano >= $cutoff
          AND trace_id NOT IN (SELECT trace_id FROM pinned)
    ),
    to_summarise AS (
        SELECT d.trace_id, d.parent_span_id, d.service_name, d.span_name, epoch_ns(d.start_time) AS start_ns,
               epoch_ns(d.start_time) + d.duration_ns AS end_ns, d.status_code = 'ERROR' AS failed
        FROM span_data d
        SEMI JOIN straddling t ON t.trace_id = d.trace_id
        WHERE d.start_time >= make_timestamp_ns($cutoff)
          AND d.start_time <= make_timestamp_ns((SELECT coalesce(max(end_unix_nano), $cutoff) FROM straddling))
    ),
-- include: write/_summaries_of
    SELECT * FROM summaries
) AS n
ON s.trace_id = n.trace_id
WHEN MATCHED THEN UPDATE SET
    start_time = make_timestamp_ns(n.start_ns),
    end_unix_nano = n.end_ns,
    duration_ns = n.end_ns - n.start_ns,
    span_count = n.span_count,
    error_count = n.error_count,
    root_is_missing = n.root_is_missing,
    root_start_unix_nano = n.root_start,
    root_service = n.root_service,
    root_span_name = n.root_span_name,
    spans_per_service = n.services
WHEN NOT MATCHED BY SOURCE AND s.start_time < make_timestamp_ns($cutoff)
    AND NOT ($honour_pins AND s.trace_id IN (
        SELECT trace_id FROM retention_pin_data
        WHERE keep_until_unix_nano IS NULL OR keep_until_unix_nano > $now)) THEN DELETE;
