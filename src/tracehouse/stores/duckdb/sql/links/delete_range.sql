DELETE FROM inferred_link_data
WHERE child_start_time >= make_timestamp_ns($start) AND child_start_time < make_timestamp_ns($end);
