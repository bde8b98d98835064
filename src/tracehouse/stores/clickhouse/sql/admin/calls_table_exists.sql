-- Whether the store has its table of calls (stores created before it need it filled from their spans).
SELECT count() FROM system.tables WHERE database = {database_name} AND name = 'service_calls_local'
