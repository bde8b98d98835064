-- The one definition of a trace's summary, included by the three writes of trace_summary_data
-- (`-- include: write/_summaries_of`, expanded by sql_files.py). It reads `to_summarise`, a CTE of
-- the spans to fold in with columns trace_id, parent_span_id, service_name, span_name, start_ns,
-- end_ns (nanoseconds since the epoch) and failed, and defines `summaries`: one row per
-- trace with start_ns, end_ns, span_count, error_count, root_is_missing, root_start, root_service,
-- root_span_name and services (spans per service). The root is the span without a parent, the
-- earliest if there are several, as in the traces view.
per_service AS (
    SELECT trace_id, service_name, count(*) AS n
    FROM to_summarise
    GROUP BY trace_id, service_name
),
per_trace AS (
    SELECT
        trace_id,
        min(start_ns)                                                 AS start_ns,
        max(end_ns)                                                   AS end_ns,
        count(*)                                                      AS span_count,
        count(*) FILTER (WHERE failed)                                AS error_count,
        NOT bool_or(parent_span_id IS NULL)                           AS root_is_missing,
        arg_min(start_ns, (parent_span_id IS NOT NULL, start_ns))     AS root_start,
        arg_min(service_name, (parent_span_id IS NOT NULL, start_ns)) AS root_service,
        arg_min(span_name, (parent_span_id IS NOT NULL, start_ns))    AS root_span_name
    FROM to_summarise
    GROUP BY trace_id
),
summaries AS (
    SELECT t.*, m.services
    FROM per_trace t
    JOIN (
        SELECT trace_id, map_from_entries(list({'key': service_name, 'value': n})) AS services
        FROM per_service
        GROUP BY trace_id
    ) m USING (trace_id)
)
