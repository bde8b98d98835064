SELECT count() FROM {span_data} FINAL WHERE start_time_unix_nano < {cutoff}
