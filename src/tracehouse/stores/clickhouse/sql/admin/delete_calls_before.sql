-- Retention of the service map's calls: as for the spans (admin/delete_before.sql), the calls whose
-- child or parent span starts before the cutoff, sparing pinned traces unless {spare} is empty
-- (the size cap).
ALTER TABLE {calls_local} {on_cluster} DELETE
WHERE (start_time_unix_nano < {cutoff} OR parent_start_time_unix_nano < {cutoff}) {spare}
