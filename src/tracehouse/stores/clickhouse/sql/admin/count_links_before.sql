SELECT count() FROM {links} WHERE child_start_time_unix_nano < {cutoff}
