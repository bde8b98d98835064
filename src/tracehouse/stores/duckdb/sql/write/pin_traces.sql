-- Pin the traces whose raw ids are in $trace_ids until $keep_until (ns; null: until deleted), replacing
-- any earlier pin of theirs (write/unpin_traces.sql runs first, in the same transaction).
INSERT INTO retention_pin_data SELECT unnest($trace_ids::BLOB[]), $keep_until::BIGINT;
