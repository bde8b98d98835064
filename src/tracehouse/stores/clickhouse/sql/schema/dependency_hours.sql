-- The service map by hour, a cache over the calls (schema/service_calls.sql) that readers fill:
-- for each hour of child start times, one row per (parent, child) pair with its calls, error
-- calls and the durations' quantileExact state, plus one marker row (empty service names) with
-- the hour's signature when it was summarised: its rows in the calls table (repeats included) and
-- the latest `derived_at` among them. A reader uses an hour's rows only while the calls table still
-- shows that signature; any insert, merge or delete in the hour changes it, and the hour is
-- summarised again from the calls (FINAL) under a new `version`. Rows of one summary share its
-- version and are written in one INSERT; a reader takes the latest version's rows of each hour.
-- ReplacingMergeTree by version keeps the table small as hours are summarised again.
CREATE TABLE IF NOT EXISTS {hours_local} {on_cluster} (
    hour           Int64,
    parent_service String,
    service_name   String,
    version        UInt64,
    call_rows      UInt64,
    last_derived   UInt64,
    calls          UInt64,
    errors         UInt64,
    durations      AggregateFunction(quantileExact(0.95), Int64)
) ENGINE = {hours_engine}
ORDER BY (hour, parent_service, service_name)
