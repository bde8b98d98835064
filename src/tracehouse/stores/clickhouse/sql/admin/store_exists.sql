-- Whether every table and view of the store exists on this server (the last ones created are the
-- views). A store created by an earlier version lacks the newer tables: opening it for writing
-- creates them (every CREATE is IF NOT EXISTS).
SELECT count() = 9 + 3 + 8 + if({cluster_name} = '', 0, 9)
FROM system.tables
WHERE database = {database_name}
  AND name IN ('span_data_local', 'span_data', 'cluster_parts', 'cluster_mutations', 'spans', 'traces', 'edges',
               'retention_pins_local', 'retention_pins', 'inferred_links_local', 'inferred_links_distributed',
               'span_index_local', 'span_index', 'span_index_mv', 'trace_summary_local', 'trace_summary',
               'trace_summary_mv', 'service_calls_local', 'service_calls',
               'dependency_hours_local', 'dependency_hours',
               'inferred_links', 'reconstructed_traces', 'reconstruction_up_1', 'reconstruction_up_2',
               'reconstruction_up_4', 'reconstruction_up_8', 'reconstruction_up_16', 'reconstruction_up_32')
