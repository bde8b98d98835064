-- After admin/delete_before (same transaction): drop the resources that no remaining span refers to.
DELETE FROM resource_data WHERE resource_id NOT IN (SELECT resource_id FROM span_data);
