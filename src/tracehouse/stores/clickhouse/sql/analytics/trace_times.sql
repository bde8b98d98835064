-- How many traces the filter selects, and when the first and the last of them started (the start
-- of a trace: its first span in the window). doctor places its default window and baseline with it.
-- Duplicates of a span before a merge change no minimum, so no FINAL.
SELECT count(), min(s), max(s) FROM (
    SELECT trace_id, min(start_time_unix_nano) AS s
    FROM {span_data}
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      AND trace_id IN (
-- include: analytics/_selected_traces
      )
    GROUP BY trace_id
) AS per_trace
