-- What the policies look at (receiver.sampling.traces.TRACE_COLUMNS), one row per trace, for the
-- unreleased held spans of {trace_ids}. The root is the span without a parent (the earliest if
-- several; the earliest span when none), as on DuckDB. {attribute_lists}: the attribute maps when
-- a policy needs them, else empty arrays. `holds`: the (hold_id:received) pairs read, which the
-- pass releases, and only those: rows held after this read stay held (late spans).
-- Each span counts once: a batch the spool replays after a crash is held again under another
-- hold_id, and write_spans stores its spans once (its key: trace, span id, start), so the counts a
-- policy and the per-minute rows see are of the spans a reader will see. Every copy's hold is
-- still listed, so the release covers them all.
SELECT lower(hex(trace_id)) AS id,
       countIf(isNull(h_parent)) > 0                                  AS has_root,
       argMin(h_service, (isNotNull(h_parent), start_time_unix_nano)) AS root_service,
       argMin(h_name, (isNotNull(h_parent), start_time_unix_nano))    AS root_operation,
       min(start_time_unix_nano)                                      AS start_unix_nano,
       max(greatest(h_end, start_time_unix_nano))                     AS end_unix_nano,
       count()                                                        AS span_count,
       countIf(h_status = 2)                                          AS error_count,
       sum(h_bytes)                                                   AS approx_bytes,
       {attribute_lists},
       groupUniqArrayArray(h_holds)                                   AS holds
FROM (
    SELECT trace_id, span_id, start_time_unix_nano,
           any(parent_span_id)      AS h_parent,
           any(service_name)        AS h_service,
           any(span_name)           AS h_name,
           any(end_time_unix_nano)  AS h_end,
           any(status_code)         AS h_status,
           any(attributes)          AS h_attributes,
           any(resource_attributes) AS h_resource,
           any(64 + length(ifNull(attributes, '')) + length(ifNull(events, '')) + length(ifNull(links, ''))
               + length(span_name)) AS h_bytes,
           groupUniqArray(concat(toString(hold_id), ':', toString(received_unix_nano))) AS h_holds
    FROM {held}
    WHERE trace_id IN {trace_ids}
      AND
-- include: sampling/_unreleased
    GROUP BY trace_id, span_id, start_time_unix_nano
)
GROUP BY trace_id
