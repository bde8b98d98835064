-- Tail sampling's tables (docs/sampling.md, ADR 10). Additive: created with IF NOT EXISTS the first
-- time a backend runs with --sampling; the store's schema version does not change, and a store
-- without them reads as "never sampled".
-- sampling_held_span: spans waiting for their trace's decision, exactly as decoded
-- (model.SPAN_BATCH_SCHEMA, resources inline) plus when they arrived. Kept spans move to span_data.
CREATE TABLE IF NOT EXISTS sampling_held_span (
    trace_id             BLOB NOT NULL,
    span_id              BLOB NOT NULL,
    parent_span_id       BLOB,
    trace_state          VARCHAR,
    service_name         VARCHAR,
    span_name            VARCHAR,
    span_kind            UTINYINT,
    start_time_unix_nano BIGINT,
    end_time_unix_nano   BIGINT,
    status_code          UTINYINT,
    status_message       VARCHAR,
    attributes           VARCHAR,
    resource_attributes  VARCHAR,
    events               VARCHAR,
    links                VARCHAR,
    scope_name           VARCHAR,
    scope_version        VARCHAR,
    flags                BIGINT,
    scope_attributes     VARCHAR,
    scope_schema_url     VARCHAR,
    resource_schema_url  VARCHAR,
    received_unix_nano   BIGINT NOT NULL
);
-- One row per decided trace. Kept rows are the traces' sampling weights (1 / probability) and stay;
-- dropped rows are the decision cache for late spans and are forgotten after `decision_cache`.
-- threshold: OpenTelemetry's `th` (tracestate `ot=th:...`) for the probability.
CREATE TABLE IF NOT EXISTS sampling_decision (
    trace_id          BLOB NOT NULL,
    kept              BOOLEAN NOT NULL,
    probability       DOUBLE NOT NULL,
    weight            DOUBLE NOT NULL,
    threshold         VARCHAR NOT NULL,
    policy            VARCHAR NOT NULL,
    decided_unix_nano BIGINT NOT NULL
);
-- What each policy kept and dropped, per minute (several rows per minute and policy: sum them).
-- Late spans (spans of a trace decided earlier) count in the span columns only.
CREATE TABLE IF NOT EXISTS sampling_minute (
    minute         TIMESTAMP NOT NULL,
    policy         VARCHAR NOT NULL,
    kept_traces    BIGINT NOT NULL,
    dropped_traces BIGINT NOT NULL,
    kept_spans     BIGINT NOT NULL,
    dropped_spans  BIGINT NOT NULL,
    kept_bytes     BIGINT NOT NULL,
    dropped_bytes  BIGINT NOT NULL,
    kept_weight    DOUBLE NOT NULL
);
