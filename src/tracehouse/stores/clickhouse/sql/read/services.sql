-- Every service that has spans, sorted.
SELECT DISTINCT service_name FROM {span_data} ORDER BY service_name
