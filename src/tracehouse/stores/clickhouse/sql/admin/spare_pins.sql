AND trace_id NOT IN (SELECT trace_id FROM {pins_local} FINAL WHERE keep_until_unix_nano > {now})
