-- tracehouse DuckDB store, schema version 3 (migrate/v2_to_v3.sql upgrades a version 2 store,
-- migrate/v1_to_v2.sql a version 1 store straight to this schema). Documented column by column in docs/schema.md.
-- Physical tables end in _data; users query the views (spans, traces, edges).

CREATE TABLE IF NOT EXISTS tracehouse_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TYPE IF NOT EXISTS span_kind_t AS ENUM ('UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER');
CREATE TYPE IF NOT EXISTS status_code_t AS ENUM ('UNSET', 'OK', 'ERROR');

-- Ids are raw bytes (16/8): half the size of hex text and compared as fast. No primary key: an ART
-- index over 10M random ids costs hundreds of MB of memory; duplicates are filtered at write time
-- (see write/insert_spans.sql). Rows arrive roughly in start_time order, so zone maps on start_time
-- prune both time-window queries and the duplicate check.
CREATE TABLE IF NOT EXISTS span_data (
    trace_id            BLOB NOT NULL,
    span_id             BLOB NOT NULL,
    parent_span_id      BLOB,
    trace_state         VARCHAR,
    service_name        VARCHAR NOT NULL,
    span_name           VARCHAR NOT NULL,
    span_kind           span_kind_t NOT NULL,
    start_time          TIMESTAMP_NS NOT NULL,
    duration_ns         BIGINT NOT NULL,
    status_code         status_code_t NOT NULL,
    status_message      VARCHAR,
    attributes          VARIANT,
    resource_id         UBIGINT NOT NULL,    -- the span's resource, in resource_data
    events              VARIANT,
    links               VARIANT,
    scope_name          VARCHAR,
    scope_version       VARCHAR,
    -- Schema version 3: the rest of what OTLP carries, so /api/v3 returns spans as they came.
    flags               UINTEGER,            -- OTLP span flags (W3C trace flags; bits 8-9: parent remote); null before v3
    scope_attributes    VARIANT,             -- the instrumentation scope's attributes; null when none
    scope_schema_url    VARCHAR,
    resource_schema_url VARCHAR
);

-- One row per distinct resource: the attributes a process reports about itself (service.name,
-- service.version, host.name, ...), which every span it sends repeats. Stored once instead of in
-- every span row: converting and compressing the same VARIANT per span cost 1.4 us of CPU per span,
-- and storing it once raised the ingest benchmark's stored rate by ~10% (ADR 9). resource_id is
-- the first 8 bytes of the MD5 of the resource's JSON text, big-endian: the writer
-- (DuckDBStore.write_spans) computes it once per distinct resource and adds only the ones not
-- stored yet, so each id appears once. Retention deletes the resources no span refers to any more.
CREATE TABLE IF NOT EXISTS resource_data (
    resource_id UBIGINT NOT NULL,
    attributes  VARIANT
);

CREATE OR REPLACE VIEW spans AS
SELECT
    lower(hex(d.trace_id))                        AS trace_id,
    lower(hex(d.span_id))                         AS span_id,
    lower(hex(d.parent_span_id))                  AS parent_span_id,
    d.trace_state,
    d.service_name,
    d.span_name,
    d.span_kind::VARCHAR                          AS span_kind,
    d.start_time,
    make_timestamp_ns(epoch_ns(d.start_time) + d.duration_ns) AS end_time,
    d.duration_ns,
    d.status_code::VARCHAR                        AS status_code,
    d.status_message,
    d.attributes,
    r.attributes                                  AS resource_attributes,
    d.events,
    d.links,
    d.scope_name,
    d.scope_version,
    d.flags,
    d.scope_attributes,
    d.scope_schema_url,
    d.resource_schema_url
FROM span_data d
LEFT JOIN resource_data r ON r.resource_id = d.resource_id;

-- One row per trace. The root is the span without a parent (the earliest one if a trace has several).
CREATE OR REPLACE VIEW traces AS
SELECT
    lower(hex(trace_id))                                             AS trace_id,
    arg_min(service_name, (parent_span_id IS NOT NULL, start_time))  AS root_service,
    arg_min(span_name, (parent_span_id IS NOT NULL, start_time))     AS root_span_name,
    min(start_time)                                                  AS start_time,
    max(epoch_ns(start_time) + duration_ns) - min(epoch_ns(start_time)) AS duration_ns,
    count(*)                                                         AS span_count,
    count(*) FILTER (WHERE status_code = 'ERROR')                    AS error_count
FROM span_data
GROUP BY trace_id;

-- One row per call between two spans: parent service/operation -> child service/operation.
CREATE OR REPLACE VIEW edges AS
SELECT
    lower(hex(c.trace_id))   AS trace_id,
    p.service_name           AS parent_service,
    p.span_name              AS parent_operation,
    c.service_name           AS child_service,
    c.span_name              AS child_operation,
    c.start_time             AS start_time,
    c.duration_ns            AS duration_ns,
    c.status_code::VARCHAR   AS status_code
FROM span_data c
JOIN span_data p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id;

-- One row per trace, kept by the writer in the same transaction as the spans it summarises
-- (write/before_insert_trace_summary.sql), so search and lookup by id need not group 10M spans.
-- An accelerator only: readers check that it covers every stored span (sum(span_count) = count of
-- span_data) and otherwise answer from span_data. No primary key, for the same memory reason as
-- span_data; the writer's MERGE finds a trace's row with a hash join instead.
CREATE TABLE IF NOT EXISTS trace_summary_data (
    trace_id        BLOB NOT NULL,
    start_time      TIMESTAMP_NS NOT NULL,   -- earliest span start
    end_unix_nano   BIGINT NOT NULL,         -- latest span end
    duration_ns     BIGINT NOT NULL,         -- end_unix_nano - start
    span_count      BIGINT NOT NULL,
    error_count     BIGINT NOT NULL,
    root_is_missing BOOLEAN NOT NULL,        -- no span without a parent seen yet
    root_start_unix_nano BIGINT NOT NULL,    -- start of the chosen root (or earliest span)
    root_service    VARCHAR,
    root_span_name  VARCHAR,
    spans_per_service MAP(VARCHAR, BIGINT) NOT NULL
);

-- Traces kept past the store's retention (schema version 3): `tracehouse import` pins the traces it
-- loads, until keep_until_unix_nano or, when that is null, until they are deleted by hand. Age-based
-- retention (admin/delete_before.sql) skips the spans of pinned traces and drops expired pins; the
-- size cap does not (it protects the disk, and says so in docs/configuration.md).
CREATE TABLE IF NOT EXISTS retention_pin_data (
    trace_id             BLOB NOT NULL,
    keep_until_unix_nano BIGINT              -- null: until deleted
);
