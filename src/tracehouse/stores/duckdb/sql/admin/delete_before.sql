DELETE FROM span_data WHERE start_time < make_timestamp_ns($cutoff);
