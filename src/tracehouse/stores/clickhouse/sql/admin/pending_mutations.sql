SELECT count() FROM {mutations} WHERE database = {database_name} AND table = 'span_data_local' AND is_done = 0
