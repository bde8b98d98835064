    -- The traces that start in the window, with the duration asked for, in the order asked for.
    GROUP BY trace_id
    HAVING start_ns >= {start_min} AND start_ns <= {start_max}
       AND end_ns - start_ns >= {trace_dur_min} AND end_ns - start_ns <= {trace_dur_max}
) AS t
ORDER BY
    multiIf({sort} = 'longest', end_ns - start_ns,
            {sort} = 'most_spans', toInt64(span_count),
            {sort} = 'most_errors', toInt64(error_count),
            start_ns) DESC,
    start_ns DESC,
    trace_id
LIMIT {limit}
