-- The opening shared by every analysis (prepended to each analytics/*.sql by analytics.py, after
-- _summaries_stored.sql or _summaries_live.sql, which define summary_source: one row per trace).
-- window_spans: the spans that started in [$start_ns, $end_ns).
-- selected: one row per trace that the filters select. A trace is selected when one of its spans
-- matches $service and $operation (NULL = any) and, for each attribute filter $key_i = $value_i
-- (i = 1..4; a NULL value is no filter), some span carries it as a span or resource attribute,
-- compared as text. Four fixed slots because DuckDB needs constant keys to look into a VARIANT,
-- and separate attr_i scans because a plain `attributes[$key] = $value` is pushed into the scan of
-- the shredded VARIANT column (10-20 ms on 5M spans; casting the parameter, OR-ing the span and
-- resource maps, or testing inside an aggregate each defeat that and cost 1-2.5 s).
-- (RECURSIVE, in the head, is for the analyses that walk up the tree; it changes nothing for the others.)
-- Traces are keyed by hash(trace_id), a UBIGINT: joins and groups on it cost far less than on the
-- 16-byte ids, and with a million traces the chance of any collision is about 3e-8.
window_spans AS NOT MATERIALIZED (
    SELECT
        hash(trace_id)                      AS t,
        hash(trace_id, span_id)             AS k,       -- span key
        hash(trace_id, parent_span_id)      AS pk,      -- parent's span key
        trace_id,
        span_id,
        parent_span_id,
        service_name,
        span_name,
        epoch_ns(start_time)                AS s,
        start_time,                         -- for ranges the scan's zone maps can use
        duration_ns                         AS d,
        status_code = 'ERROR'               AS failed,
        attributes,
        resource_id,                        -- join resource_data for the resource's attributes
        -- Only the export reads these; the views are NOT MATERIALIZED, so other analyses never scan them.
        span_kind::VARCHAR                  AS span_kind,
        status_code::VARCHAR                AS status_code,
        status_message,
        trace_state,
        events::JSON::VARCHAR               AS events,
        links::JSON::VARCHAR                AS links,
        scope_name,
        scope_version,
        flags::BIGINT                       AS flags,
        scope_attributes::JSON::VARCHAR     AS scope_attributes,
        scope_schema_url,
        resource_schema_url
    FROM span_data
    WHERE start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
attr_1 AS MATERIALIZED (
    SELECT hash(trace_id) AS t FROM span_data
    WHERE attributes[$key_1]::VARCHAR = $value_1
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
    UNION ALL
    SELECT hash(trace_id) AS t FROM span_data
    WHERE resource_id IN (SELECT resource_id FROM resource_data WHERE attributes[$key_1]::VARCHAR = $value_1)
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
attr_2 AS MATERIALIZED (
    SELECT hash(trace_id) AS t FROM span_data
    WHERE attributes[$key_2]::VARCHAR = $value_2
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
    UNION ALL
    SELECT hash(trace_id) AS t FROM span_data
    WHERE resource_id IN (SELECT resource_id FROM resource_data WHERE attributes[$key_2]::VARCHAR = $value_2)
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
attr_3 AS MATERIALIZED (
    SELECT hash(trace_id) AS t FROM span_data
    WHERE attributes[$key_3]::VARCHAR = $value_3
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
    UNION ALL
    SELECT hash(trace_id) AS t FROM span_data
    WHERE resource_id IN (SELECT resource_id FROM resource_data WHERE attributes[$key_3]::VARCHAR = $value_3)
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
attr_4 AS MATERIALIZED (
    SELECT hash(trace_id) AS t FROM span_data
    WHERE attributes[$key_4]::VARCHAR = $value_4
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
    UNION ALL
    SELECT hash(trace_id) AS t FROM span_data
    WHERE resource_id IN (SELECT resource_id FROM resource_data WHERE attributes[$key_4]::VARCHAR = $value_4)
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
-- Traces with a span of $service (and $operation); empty, and free, when neither is given.
matching AS MATERIALIZED (
    SELECT hash(trace_id) AS t FROM span_data
    WHERE ($service::VARCHAR IS NOT NULL OR $operation::VARCHAR IS NOT NULL)
      AND ($service::VARCHAR IS NULL OR service_name = $service)
      AND ($operation::VARCHAR IS NULL OR span_name = $operation)
      AND start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
),
-- Per-trace figures (start, duration over the spans in the window, error) come from summary_source
-- for the traces wholly inside the window, and are grouped from the spans only for the few traces the
-- window's edges cut. On 1M traces / 4.7M spans that is 50 ms instead of 240 ms for grouping the
-- spans, and with less memory (the group-by spilled at 128 MB). Without a window no trace is cut,
-- and the edge part's scan stops at once (its semi-join has nothing to match).
summaries AS NOT MATERIALIZED (
    SELECT hash(trace_id) AS t, trace_id, epoch_ns(start_time) AS start_ns, end_unix_nano,
           duration_ns, error_count > 0 AS failed
    FROM summary_source
    WHERE start_time < make_timestamp_ns($end_ns) AND end_unix_nano >= $start_ns
),
per_trace AS (
    SELECT t, trace_id, start_ns, duration_ns, failed FROM summaries
    WHERE start_ns >= $start_ns AND end_unix_nano < $end_ns
    UNION ALL
    SELECT t, any_value(trace_id), min(s), max(s + d) - min(s), bool_or(failed)
    FROM window_spans
    WHERE t IN (SELECT t FROM summaries WHERE start_ns < $start_ns OR end_unix_nano >= $end_ns)
    GROUP BY t
),
-- Not materialised: an analysis that reads it twice (threshold and join) scans the summaries twice
-- (30 ms each) rather than holding 1M rows in the store's memory while it joins spans: held, they
-- made the routes join fail at 128 MB once the buffer pool was warm. The filter sets above are
-- materialised, so a second read does not repeat their scans.
selected AS NOT MATERIALIZED (
    SELECT t, trace_id, start_ns, duration_ns, failed
    FROM per_trace
    WHERE ($service::VARCHAR IS NULL AND $operation::VARCHAR IS NULL OR t IN (SELECT t FROM matching))
      AND ($value_1::VARCHAR IS NULL OR t IN (SELECT t FROM attr_1))
      AND ($value_2::VARCHAR IS NULL OR t IN (SELECT t FROM attr_2))
      AND ($value_3::VARCHAR IS NULL OR t IN (SELECT t FROM attr_3))
      AND ($value_4::VARCHAR IS NULL OR t IN (SELECT t FROM attr_4))
)
