-- Add the resources of a batch (the Arrow table registered as `batch_resources`: resource_id, and
-- attributes as JSON text; each id once) that resource_data does not hold yet. Run in the same
-- transaction as write/insert_spans.sql, so no stored span ever refers to a missing resource.
INSERT INTO resource_data
SELECT n.resource_id, n.attributes::JSON::VARIANT
FROM batch_resources n
ANTI JOIN resource_data r ON r.resource_id = n.resource_id;
