-- Forget per-minute counts from before {minutes_before}.
ALTER TABLE {minutes_local} {on_cluster} DELETE WHERE minute_unix_nano < {minutes_before}
