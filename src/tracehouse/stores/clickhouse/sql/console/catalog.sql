-- The relations users may query from the SQL console: the views, and the columns of each (in their
-- order of definition, which is system.columns' order; 18.16 has no position column to sort by).
SELECT table, name, type
FROM system.columns
WHERE database = {database_name} AND table IN ('spans', 'traces', 'edges', 'inferred_links', 'reconstructed_traces')
