-- Attribute contrast, the heavy part: the selected traces' durations over the window, the selection
-- threshold, and a fixed sample of at most {max_traces} traces on each side (lowest cityHash64 of
-- the trace id), with the side of each. The selection: the erroring traces ({errors} = 1), or those
-- lasting at least the threshold: {min_duration_ns} (when not -1), or the duration at rank floor((n - 1) * q),
-- q = 1 - {slowest_fraction}, of the selected traces (as DuckDB's quantile_disc).
SELECT lower(hex(trace_id)) AS trace_hex, in_selection, threshold
FROM (
    SELECT trace_id, duration_ns, failed,
           if({min_duration_ns} >= 0, toInt64({min_duration_ns}), quantile_threshold) AS threshold,
           if({errors} = 1, failed, duration_ns >= threshold) AS in_selection
    FROM (
        SELECT trace_id,
               max(start_time_unix_nano + duration_ns) - min(start_time_unix_nano) AS duration_ns,
               max(status_code = 2) AS failed
        FROM {span_data}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          {narrowing}
        GROUP BY trace_id
    ) AS per_trace
    CROSS JOIN (
        -- Always an aggregate (one row): a constant choice in here would be folded away, leaving one
        -- row per trace; the minimum duration, when given, is chosen outside.
        SELECT toInt64(arrayElement(arraySort(groupArray(duration_ns)),
                                    toUInt64(floor((count() - 1) * (1 - {slowest_fraction}))) + 1)) AS quantile_threshold
        FROM (
            SELECT max(start_time_unix_nano + duration_ns) - min(start_time_unix_nano) AS duration_ns
            FROM {span_data}
            WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
              {narrowing}
            GROUP BY trace_id
        ) AS durations
    ) AS chosen
) AS sided
ORDER BY in_selection, cityHash64(trace_id), trace_id
LIMIT {max_traces} BY in_selection
