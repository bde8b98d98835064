-- Trace search. Candidates are the traces with a span that starts at or after {start_min} (and at
-- or before {candidate_start_max}: the window's end when any span of the trace qualifies, since a
-- trace's first span starts in the window; no bound when the span must match a service or filter,
-- as that span may start after the window's end) and matches the span filters (read/_span_matches:
-- service, operation, kind, span duration, and attribute regular expressions {re1}..{re8} built by
-- the store from the key and value, '' = unused slot; "error" = "true" also matches a span with
-- status ERROR, as in Jaeger's tag search). Each candidate is then summarised over all of its spans
-- and kept if the trace starts in the window and its duration is within bounds. The candidate scan
-- reads the local table: on a cluster it runs on every shard, next to that shard's traces.
SELECT
    lower(hex(trace_id)) AS trace_hex,
    root_service,
    root_span_name,
    start_ns,
    end_ns - start_ns AS duration_ns,
    span_count,
    error_count
FROM (
    SELECT
        trace_id,
        argMin(service_name, (isNotNull(parent_span_id), start_time_unix_nano)) AS root_service,
        argMin(span_name, (isNotNull(parent_span_id), start_time_unix_nano))    AS root_span_name,
        min(start_time_unix_nano)               AS start_ns,
        max(start_time_unix_nano + duration_ns) AS end_ns,
        count()                                 AS span_count,
        countIf(status_code = 2)                AS error_count
    FROM {span_data} FINAL
    WHERE trace_id IN (
        SELECT trace_id FROM {span_data_local}
        WHERE start_time_unix_nano >= {start_min} AND start_time_unix_nano <= {candidate_start_max}
          AND
-- include: read/_span_matches
    )
-- include: read/_found_traces_tail
