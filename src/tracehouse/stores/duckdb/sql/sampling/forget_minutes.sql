-- Forget per-minute counts from before $before (unix ns).
DELETE FROM sampling_minute WHERE minute < make_timestamp_ns($before);
