-- The candidates of a sample (trace_sample, cause_sample): the selected traces with a span that
-- started in one of the sample's short time slices (the parts' {narrowing} ends with
-- analytics/_narrow_slices.sql), with their first start and last end in the window and the
-- cityHash64 of their id. The store keeps those whose first start lies in a slice and takes the
-- lowest hashes (analytics.py, as the embedded store's sample_slices.sql). Keyed by the trace id
-- itself ({parts} with key trace_id): the candidates are few.
SELECT lower(hex(t)) AS trace_hex, cityHash64(t) AS h, minMerge(st) AS s, maxMerge(en) AS e
FROM (
{parts}
) AS parts
GROUP BY t
