-- The envelope of each of the given traces ($ids: BLOBs) from the per-trace summaries: where their
-- spans lie in time, so that attribute_contrast_given.sql reads only those row groups.
SELECT epoch_ns(start_time) AS start_ns, end_unix_nano AS end_ns
FROM trace_summary_data
WHERE trace_id IN (SELECT unnest($ids::BLOB[]))
ORDER BY start_ns
