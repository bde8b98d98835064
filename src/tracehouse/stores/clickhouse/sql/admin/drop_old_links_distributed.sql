-- See old_links_distributed.sql: the old Distributed table (no data of its own) makes way for the view.
DROP TABLE IF EXISTS {links_view} {on_cluster}
