-- What the policies look at (receiver.sampling.traces.TRACE_COLUMNS), one row per trace, for the
-- unreleased held spans of {trace_ids}. The root is the span without a parent (the earliest if
-- several; the earliest span when none), as on DuckDB. {attribute_lists}: the attribute maps when
-- a policy needs them, else empty arrays. `holds`: the (hold_id:received) pairs read, which the
-- pass releases, and only those: rows held after this read stay held (late spans).
SELECT lower(hex(trace_id)) AS id,
       countIf(isNull(parent_span_id)) > 0                                       AS has_root,
       argMin(service_name, (isNotNull(parent_span_id), start_time_unix_nano))   AS root_service,
       argMin(span_name, (isNotNull(parent_span_id), start_time_unix_nano))      AS root_operation,
       min(start_time_unix_nano)                                                 AS start_unix_nano,
       max(greatest(end_time_unix_nano, start_time_unix_nano))                   AS end_unix_nano,
       count()                                                                   AS span_count,
       countIf(status_code = 2)                                                  AS error_count,
       sum(64 + length(ifNull(attributes, '')) + length(ifNull(events, '')) + length(ifNull(links, ''))
           + length(span_name))                                                  AS approx_bytes,
       {attribute_lists},
       groupUniqArray(concat(toString(hold_id), ':', toString(received_unix_nano))) AS holds
FROM {held}
WHERE trace_id IN {trace_ids}
  AND
-- include: sampling/_unreleased
GROUP BY trace_id
