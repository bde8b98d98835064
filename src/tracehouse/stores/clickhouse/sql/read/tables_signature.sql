-- What changes whenever the span table, the search index or the per-trace summaries change: their
-- active parts, rows and the highest block number (an insert's part takes a new one; a merge or a
-- mutation replaces parts). The store keeps a filter's trace_times while this holds.
SELECT count(), sum(rows), max(max_block_number), max(modification_time)
FROM {parts}
WHERE database = {database_name} AND active
  AND table IN ('span_data_local', 'span_index_local', 'trace_summary_local')
