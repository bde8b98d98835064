-- Rows physically stored in span_data, deleted ones included: deletes free space only once a
-- checkpoint vacuums their row groups, so size / stored rows is the cost of one stored row.
SELECT coalesce(sum(count), 0) FROM pragma_storage_info('span_data')
WHERE column_name = 'trace_id' AND segment_type <> 'VALIDITY';
