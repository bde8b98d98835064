-- How many rows of the window are copies of a span that background merges have not removed yet
-- (a batch re-sent after a failure, or two writers): 0 almost always, as the writer skips spans it
-- already stored. Counted from the key columns alone; analyses that read wide columns use FINAL
-- only when this is not 0.
SELECT
    (SELECT count() FROM {span_data} WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns})
  - (SELECT count() FROM {span_data} FINAL WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns})
