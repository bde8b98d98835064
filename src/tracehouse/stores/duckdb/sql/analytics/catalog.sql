-- The relations users may query from the SQL console: the views, and the columns of each.
SELECT v.view_name AS name, c.column_name, c.data_type, c.column_index
FROM duckdb_views() v
JOIN duckdb_columns() c ON c.table_name = v.view_name AND c.schema_name = v.schema_name
WHERE v.database_name = current_database() AND v.schema_name = 'main' AND NOT v.internal
ORDER BY v.view_name, c.column_index
