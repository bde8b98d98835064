-- Where errors happen: spans per service, operation and resource service.version among the
-- selected traces' window spans, how many failed, and how many failed on their own (an error span
-- none of whose children in the window failed; errors propagate up, own errors show where they
-- start). The failing children are looked up in the local table: a trace lives on one shard.
-- {final}: FINAL only when the window holds copies of a span not merged yet (window_copies.sql):
-- with FINAL, reading every span's resource attributes cost 2.6 s at 1M traces, 0.7 s without.
-- Grouped by the resource's attributes as text, and the version taken from each resource once
-- (few resources): at 1M traces the first grouping took 0.32-0.35 s so, 0.50-0.56 s extracting the
-- version from every span's resource.
-- Two groupings: every span's counts, and the failing spans' own errors and example (PREWHERE on
-- the status: the parents' set is probed by the few failing spans only, not by every span).
SELECT service, operation, nullIf(version, '') AS version,
       sum(all_spans) AS spans, sum(failed) AS error_spans, sum(own) AS own_error_spans,
       lower(hex(max(example))) AS example_trace_id
FROM (
  SELECT service, operation, visitParamExtractString(resource, 'service.version') AS version,
         all_spans, failed, own, example
  FROM (
    SELECT
        service_name                                                          AS service,
        span_name                                                             AS operation,
        resource_attributes                                                   AS resource,
        count()                                                               AS all_spans,
        countIf(status_code = 2)                                              AS failed,
        toUInt64(0)                                                           AS own,
        toFixedString('', 16)                                                 AS example
    FROM {span_data} {final}
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      {narrowing}
    GROUP BY service, operation, resource
    UNION ALL
    SELECT
        service_name                                                          AS service,
        span_name                                                             AS operation,
        resource_attributes                                                   AS resource,
        toUInt64(0)                                                           AS all_spans,
        toUInt64(0)                                                           AS failed,
        countIf((trace_id, span_id) NOT IN (
            SELECT trace_id, assumeNotNull(parent_span_id)
            FROM {span_data_local}
            WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
              AND status_code = 2 AND isNotNull(parent_span_id)
        ))                                                                    AS own,
        max(trace_id)                                                         AS example
    FROM {span_data} {final}
    PREWHERE status_code = 2
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      {narrowing}
    GROUP BY service, operation, resource
  ) AS grouped
) AS counted
GROUP BY service, operation, counted.version
HAVING error_spans > 0
ORDER BY own_error_spans DESC, error_spans DESC, service, operation
