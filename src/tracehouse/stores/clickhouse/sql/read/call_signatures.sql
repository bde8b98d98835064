-- Each hour's signature in the calls table (schema/dependency_hours.sql), for the whole
-- hours of the window: its rows, repeats included (no FINAL), and latest derived_at.
-- (The condition on the key's intDiv lets 18.16 use the primary key; the one on the column is exact.)
SELECT intDiv(start_time_unix_nano, {bucket_ns}) AS hour, count(), max(derived_at)
FROM {calls}
WHERE intDiv(start_time_unix_nano, {bucket_ns}) >= {first_hour} AND intDiv(start_time_unix_nano, {bucket_ns}) < {end_hour}
  AND start_time_unix_nano >= {first_hour} * {bucket_ns} AND start_time_unix_nano < {end_hour} * {bucket_ns}
GROUP BY hour
