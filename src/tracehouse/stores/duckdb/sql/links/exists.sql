SELECT count(*) FROM information_schema.tables
WHERE table_catalog = current_database() AND table_name = 'inferred_link_data';
