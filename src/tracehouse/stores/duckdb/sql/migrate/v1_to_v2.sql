-- Upgrade a schema version 1 store, which kept each span's resource attributes in its own row, to
-- version 2, which keeps each resource once in resource_data (ADR 9). connection.py runs it in one
-- transaction, after renaming span_data to span_data_v1 and running schema.sql: a crash midway
-- leaves the version 1 store as it was. The ids are those resources.resource_id computes in Python
-- (MD5 of the JSON text); a span without resource attributes gets the empty resource '{}'.
INSERT INTO resource_data
SELECT ('0x' || md5(text)[1:16])::UBIGINT, text::JSON::VARIANT
FROM (SELECT DISTINCT coalesce(resource_attributes::JSON::VARCHAR, '{}') AS text FROM span_data_v1);

INSERT INTO span_data
SELECT
    trace_id, span_id, parent_span_id, trace_state, service_name, span_name, span_kind, start_time,
    duration_ns, status_code, status_message, attributes,
    ('0x' || md5(coalesce(resource_attributes::JSON::VARCHAR, '{}'))[1:16])::UBIGINT,
    events, links, scope_name, scope_version
FROM span_data_v1;

DROP TABLE span_data_v1;
