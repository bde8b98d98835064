-- What the policies look at (receiver.sampling.traces.TRACE_COLUMNS), one row per trace, for the
-- held spans of the traces registered as `wanted` (one column, trace_id). The root is the span
-- without a parent (the earliest if several; the earliest span when none), as in the `traces` view.
-- Attribute maps are listed only when $with_attributes (an attribute policy needs them).
SELECT h.trace_id,
       bool_or(h.parent_span_id IS NULL)                                              AS has_root,
       arg_min(h.service_name, (h.parent_span_id IS NOT NULL, h.start_time_unix_nano)) AS root_service,
       arg_min(h.span_name, (h.parent_span_id IS NOT NULL, h.start_time_unix_nano))    AS root_operation,
       min(h.start_time_unix_nano)                                                    AS start_unix_nano,
       max(greatest(h.end_time_unix_nano, h.start_time_unix_nano))                    AS end_unix_nano,
       count(*)                                                                       AS span_count,
       count(*) FILTER (WHERE h.status_code = 2)                                      AS error_count,
       sum(64 + strlen(coalesce(h.attributes, '')) + strlen(coalesce(h.events, ''))
           + strlen(coalesce(h.links, '')) + strlen(coalesce(h.span_name, '')))::BIGINT AS approx_bytes,
       CASE WHEN $with_attributes THEN list(h.attributes) END                         AS attributes,
       CASE WHEN $with_attributes THEN list(DISTINCT h.resource_attributes) END       AS resource_attributes
FROM (
    -- Each span once: a batch the spool replays after a crash is held again, and write_spans
    -- stores its spans once (trace, span id, start), so the counts a policy and the per-minute
    -- rows see are of the spans a reader will see.
    SELECT DISTINCT ON (s.trace_id, s.span_id, s.start_time_unix_nano) s.*
    FROM sampling_held_span s
    SEMI JOIN wanted w ON w.trace_id = s.trace_id
) h
GROUP BY h.trace_id;
