-- Added to {narrowing} when an analysis leaves reconstructed traces out (reconstructed.py): the
-- traces reconstruction did not touch (neither a fragment nor a trace fragments were joined to, as
-- the reconstructed_traces view lists them), as a trace-id filter that the summaries, the search
-- index and the span table all take. GLOBAL: on a cluster the set is computed once, by the
-- initiator, and sent to every shard (a fragment and the trace it joins may be on different ones).
AND trace_id GLOBAL NOT IN (SELECT arrayJoin([fragment, ancestor]) FROM {up_32})
