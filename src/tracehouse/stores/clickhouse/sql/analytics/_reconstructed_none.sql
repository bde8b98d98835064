-- Added to {narrowing} when an analysis looks only at reconstructed traces and the store has no
-- inferred links (reconstructed.py): no trace at all, as in the embedded store.
AND 0
