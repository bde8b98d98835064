-- Added to {narrowing} when an export keeps only reconstructed traces (reconstructed.py): the traces
-- the reconstructed_traces view lists, their spans exactly as stored (an export never changes ids
-- or parents). GLOBAL, as in _reconstructed_exclude.sql. Also the {only_traces} of
-- _reconstructed_spans.sql, before the join, for analyses of reconstructed=only.
AND trace_id GLOBAL IN (SELECT arrayJoin([fragment, ancestor]) FROM {up_32})
