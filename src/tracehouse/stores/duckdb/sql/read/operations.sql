-- Span names with their kinds, for one service ($service) or all (NULL), optionally of one kind.
SELECT span_name, span_kind::VARCHAR AS span_kind
FROM span_data
WHERE ($service IS NULL OR service_name = $service)
  AND ($span_kind IS NULL OR span_kind::VARCHAR = $span_kind)
GROUP BY span_name, span_kind
ORDER BY span_name, span_kind;
