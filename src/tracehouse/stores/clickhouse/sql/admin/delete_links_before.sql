-- Retention of inferred links: those whose child started before the cutoff go with the spans.
ALTER TABLE {links_local} {on_cluster} DELETE WHERE child_start_time_unix_nano < {cutoff}
