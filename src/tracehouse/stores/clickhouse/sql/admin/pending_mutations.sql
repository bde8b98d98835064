SELECT count() FROM {mutations}
WHERE database = {database_name} AND table IN ('span_data_local', 'inferred_links_local', 'retention_pins_local')
  AND is_done = 0
