SELECT count() FROM {mutations}
WHERE database = {database_name}
  AND table IN ('span_data_local', 'inferred_links_local', 'retention_pins_local', 'span_index_local',
                'trace_summary_local')
  AND is_done = 0
