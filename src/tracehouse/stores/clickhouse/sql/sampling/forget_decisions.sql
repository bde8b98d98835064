-- Forget dropped decisions older than the decision cache. Kept ones are weights: they stay.
ALTER TABLE {decisions_local} {on_cluster} DELETE WHERE kept = 0 AND decided_unix_nano < {before}
