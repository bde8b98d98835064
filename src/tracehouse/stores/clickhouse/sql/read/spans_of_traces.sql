-- Every span of the given traces (a tuple of 16-byte ids), in model.SPAN_ROW_SCHEMA order. The
-- trace id leads the sorting key, so this reads only those traces' granules. No FINAL: a span
-- re-sent before a merge is dropped by the store from this small result (its identity, trace, span
-- and start, repeats), which spares FINAL's single-threaded merge of every column. (Hex ids are
-- named apart from the columns: in ClickHouse an alias would shadow the column in WHERE.)
SELECT
-- include: read/_span_row_columns
FROM {span_data}
PREWHERE trace_id IN {trace_ids}
ORDER BY trace_id, start_time_unix_nano, span_id
