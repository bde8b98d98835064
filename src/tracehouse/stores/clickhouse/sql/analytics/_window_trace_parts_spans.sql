        -- _window_trace_parts.sql's parts from the span table, for windows that reach the oldest hour
        -- of the summaries (retention may have cut that hour, and spares pinned traces' spans
        -- before it, which the summaries and the index no longer hold).
        SELECT {key} AS t, minState(start_time_unix_nano) AS st, maxState(start_time_unix_nano + duration_ns) AS en,
               countIfState(status_code = 2) AS er
        FROM {span_data}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          {narrowing}
        GROUP BY t
