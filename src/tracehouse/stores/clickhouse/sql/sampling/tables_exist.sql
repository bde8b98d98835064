-- Whether tail sampling's tables exist (a store created before them lacks them until opened for
-- writing).
SELECT count() = if({cluster_name} = '', 4, 8)
FROM system.tables
WHERE database = {database_name}
  AND name IN ('sampling_held_span_local', 'sampling_released_local', 'sampling_decision_local',
               'sampling_minute_local', 'sampling_held_span', 'sampling_released', 'sampling_decision',
               'sampling_minute')
