-- Error hot spots (appended to _selection.sql): spans per service, operation and service.version,
-- how many failed, and how many failed on their own: an error span none of whose children failed.
-- Errors propagate up (a failing dependency makes its callers fail too); own errors point at where
-- they start. Only the few failing spans take part in the parent lookup.
, failed_parents AS (
    SELECT DISTINCT hash(trace_id, parent_span_id) AS k FROM window_spans WHERE failed
)
SELECT
    service_name                                                   AS service,
    span_name                                                      AS operation,
    resource_attributes['service.version']::VARCHAR                AS version,
    count(*)                                                       AS spans,
    count(*) FILTER (WHERE failed)                                 AS error_spans,
    count(*) FILTER (WHERE failed AND hash(trace_id, span_id) NOT IN (SELECT k FROM failed_parents))
                                                                   AS own_error_spans,
    lower(hex(max(trace_id) FILTER (WHERE failed)))                AS example_trace_id
FROM window_spans
WHERE t IN (SELECT t FROM selected)
GROUP BY ALL
HAVING count(*) FILTER (WHERE failed) > 0
ORDER BY own_error_spans DESC, error_spans DESC, service, operation
