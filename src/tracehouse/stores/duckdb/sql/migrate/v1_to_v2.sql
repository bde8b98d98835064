-- Upgrade a schema version 1 store, which kept each span's resource attributes in its own row, to
-- version 2, which keeps each resource once in resource_data (ADR 9), and on to the current schema in
-- the same copy (the columns version 3 added stay null: version 1 never stored them). connection.py runs it in one
-- transaction and then records the new version: a crash midway leaves the version 1 store as it
-- was. The ids are those resources.resource_id computes in Python (the first 8 bytes of the MD5 of
-- the JSON text, big-endian); a span without resource attributes gets the empty resource '{}'.
ALTER TABLE span_data RENAME TO span_data_v1;

-- include: schema

CREATE TEMP MACRO resource_text(attributes) AS coalesce(attributes::JSON::VARCHAR, '{}');
CREATE TEMP MACRO resource_id_of(text) AS ('0x' || md5(text)[1:16])::UBIGINT;

INSERT INTO resource_data
SELECT resource_id_of(text), text::JSON::VARIANT
FROM (SELECT DISTINCT resource_text(resource_attributes) AS text FROM span_data_v1);

INSERT INTO span_data (
    trace_id, span_id, parent_span_id, trace_state, service_name, span_name, span_kind, start_time,
    duration_ns, status_code, status_message, attributes, resource_id, events, links, scope_name,
    scope_version)
SELECT
    trace_id, span_id, parent_span_id, trace_state, service_name, span_name, span_kind, start_time,
    duration_ns, status_code, status_message, attributes, resource_id_of(resource_text(resource_attributes)),
    events, links, scope_name, scope_version
FROM span_data_v1;

DROP TABLE span_data_v1;
DROP MACRO temp.resource_id_of;
DROP MACRO temp.resource_text;
