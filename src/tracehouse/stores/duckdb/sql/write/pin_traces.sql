-- Pin the traces whose raw ids are in $trace_ids until $keep_until (ns; null: until deleted), replacing
-- any earlier pin of theirs.
DELETE FROM retention_pin_data WHERE trace_id IN (SELECT unnest($trace_ids::BLOB[]));
INSERT INTO retention_pin_data SELECT unnest($trace_ids::BLOB[]), $keep_until::BIGINT;
