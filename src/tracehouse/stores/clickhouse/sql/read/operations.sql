-- Span names with their kinds (OTLP numbers), for one service or all ({service} NULL), optionally of
-- one kind ({span_kind} NULL = any).
SELECT span_name, span_kind
FROM {span_data}
WHERE ({service} IS NULL OR service_name = {service})
  AND ({span_kind} IS NULL OR span_kind = {span_kind})
GROUP BY span_name, span_kind
ORDER BY span_name, span_kind
