-- Retention: the links of spans deleted with the same cutoff.
DELETE FROM inferred_link_data WHERE child_start_time < make_timestamp_ns($cutoff);
