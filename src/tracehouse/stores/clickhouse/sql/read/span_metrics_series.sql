-- The series of a RED metrics query (model.SpanMetricsQuery): each service of {services} (with its
-- operation when {by_operation}) that has a span of a kind in {kinds} started in the union of the
-- points' windows, ({first} - {rate_per}, {last}]. Series with no span in some window get zeros
-- there (read/span_metrics.sql gives only the windows that hold spans).
SELECT DISTINCT service_name, if({by_operation}, span_name, '') AS operation
FROM {span_data}
WHERE start_time_unix_nano > {first} - {rate_per} AND start_time_unix_nano <= {last}
  AND service_name IN {services}
  AND span_kind IN {kinds}
ORDER BY service_name, operation
