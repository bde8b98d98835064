-- Whether this cluster store was made before the console's inferred_links view: its Distributed
-- table over inferred_links_local was then named inferred_links (now inferred_links_distributed).
-- It holds no data (the links are in inferred_links_local), so opening for writing drops it and
-- makes the view in its place.
SELECT count() FROM system.tables WHERE database = {database_name} AND name = 'inferred_links' AND engine = 'Distributed'
