-- Trace search over trace_summary_data (or, when the reader prefixes a CTE of that name, over
-- summaries computed live). Every filter is a bound value; "no filter" is passed as the widest
-- bound, so the start_time/duration predicates stay plain comparisons that zone maps can use.
--   $start_min/$start_max      trace start window (ns)
--   $trace_dur_min/_max        whole-trace duration bounds (ns)
--   $service                   a service the trace must have spans of, or NULL
--   $match_spans               whether the trace also needs one span matching all of:
--     $service, $operation, $span_kind (each NULL = any), $span_dur_min/_max (ns), and each
--     $k<i> = $v<i> (i = 1..8; '' = unused slot) on the span's attributes or its resource's
--     ("error" = "true" also matches a span with status ERROR, as in Jaeger's tag search).
--     Eight fixed slots because DuckDB needs a VARIANT path to be a constant (a bound value is one).
--   $sort                      'recent' | 'longest' | 'most_spans' | 'most_errors'
SELECT
    lower(hex(s.trace_id))  AS trace_id,
    s.root_service,
    s.root_span_name,
    epoch_ns(s.start_time)  AS start_time_unix_nano,
    s.duration_ns,
    s.span_count,
    s.error_count,
    s.spans_per_service
FROM trace_summary_data s
WHERE s.start_time >= make_timestamp_ns($start_min)
  AND s.start_time <= make_timestamp_ns($start_max)
  AND s.duration_ns >= $trace_dur_min
  AND s.duration_ns <= $trace_dur_max
  AND ($service IS NULL OR map_contains(s.spans_per_service, $service))
  AND (NOT $match_spans OR s.trace_id IN (
        SELECT d.trace_id
        FROM span_data d
        LEFT JOIN resource_data r ON r.resource_id = d.resource_id
        WHERE $match_spans  -- repeated here so the planner drops this scan when it is not needed
          AND d.start_time >= make_timestamp_ns($start_min)
          AND d.duration_ns >= $span_dur_min
          AND d.duration_ns <= $span_dur_max
          AND ($service IS NULL OR d.service_name = $service)
          AND ($operation IS NULL OR d.span_name = $operation)
          AND ($span_kind IS NULL OR d.span_kind::VARCHAR = $span_kind)
          AND ($k1 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k1])[1],
                variant_extract_string(r.attributes, [$k1])[1],
                CASE WHEN $k1 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v1)
          AND ($k2 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k2])[1],
                variant_extract_string(r.attributes, [$k2])[1],
                CASE WHEN $k2 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v2)
          AND ($k3 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k3])[1],
                variant_extract_string(r.attributes, [$k3])[1],
                CASE WHEN $k3 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v3)
          AND ($k4 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k4])[1],
                variant_extract_string(r.attributes, [$k4])[1],
                CASE WHEN $k4 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v4)
          AND ($k5 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k5])[1],
                variant_extract_string(r.attributes, [$k5])[1],
                CASE WHEN $k5 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v5)
          AND ($k6 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k6])[1],
                variant_extract_string(r.attributes, [$k6])[1],
                CASE WHEN $k6 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v6)
          AND ($k7 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k7])[1],
                variant_extract_string(r.attributes, [$k7])[1],
                CASE WHEN $k7 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v7)
          AND ($k8 = '' OR coalesce(
                variant_extract_string(d.attributes, [$k8])[1],
                variant_extract_string(r.attributes, [$k8])[1],
                CASE WHEN $k8 = 'error' AND d.status_code = 'ERROR' THEN 'true' END) IS NOT DISTINCT FROM $v8)
      ))
ORDER BY
    CASE $sort
        WHEN 'longest' THEN s.duration_ns
        WHEN 'most_spans' THEN s.span_count
        WHEN 'most_errors' THEN s.error_count
        ELSE epoch_ns(s.start_time)
    END DESC,
    s.start_time DESC,
    s.trace_id
LIMIT $limit;
