-- Decisions recorded since {cache_since} for {trace_ids}, one per trace (a kept one wins where two
-- instances disagreed), without FINAL: grouped here, so correct before merges.
SELECT lower(hex(trace_id)) AS id, max(kept), max(probability), argMax(policy, (kept, probability))
FROM {decisions}
WHERE trace_id IN {trace_ids} AND decided_unix_nano >= {cache_since}
GROUP BY trace_id
