-- The oldest hour of the per-trace summaries (NULL when empty): searches from a later hour on use them.
SELECT min(bucket) FROM {summary}
