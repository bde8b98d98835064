-- The spans of a sample from sample_slices.sql: the window's spans of the sampled traces
-- ($sample: their hashes), read only in the time ranges that hold them ($lo_i..$hi_i, i = 1..12;
-- unused slots are empty ranges). The ranges are OR-ed on start_time alone so that DuckDB pushes
-- them into the scan and its zone maps skip the row groups in between.
WITH sample AS (
    SELECT unnest($sample::UBIGINT[]) AS t
),
sliced_spans AS NOT MATERIALIZED (
    SELECT * FROM span_data
    WHERE start_time >= make_timestamp_ns($start_ns) AND start_time < make_timestamp_ns($end_ns)
      AND (   (start_time >= make_timestamp_ns($lo_1) AND start_time < make_timestamp_ns($hi_1))
           OR (start_time >= make_timestamp_ns($lo_2) AND start_time < make_timestamp_ns($hi_2))
           OR (start_time >= make_timestamp_ns($lo_3) AND start_time < make_timestamp_ns($hi_3))
           OR (start_time >= make_timestamp_ns($lo_4) AND start_time < make_timestamp_ns($hi_4))
           OR (start_time >= make_timestamp_ns($lo_5) AND start_time < make_timestamp_ns($hi_5))
           OR (start_time >= make_timestamp_ns($lo_6) AND start_time < make_timestamp_ns($hi_6))
           OR (start_time >= make_timestamp_ns($lo_7) AND start_time < make_timestamp_ns($hi_7))
           OR (start_time >= make_timestamp_ns($lo_8) AND start_time < make_timestamp_ns($hi_8))
           OR (start_time >= make_timestamp_ns($lo_9) AND start_time < make_timestamp_ns($hi_9))
           OR (start_time >= make_timestamp_ns($lo_10) AND start_time < make_timestamp_ns($hi_10))
           OR (start_time >= make_timestamp_ns($lo_11) AND start_time < make_timestamp_ns($hi_11))
           OR (start_time >= make_timestamp_ns($lo_12) AND start_time < make_timestamp_ns($hi_12)))
      AND hash(trace_id) IN (SELECT t FROM sample)
)
