-- Drop the pins of the traces whose raw ids are in $trace_ids.
DELETE FROM retention_pin_data WHERE trace_id IN (SELECT unnest($trace_ids::BLOB[]));
