-- Where an export's slices start: the start time of every {slice_rows}-th span of the selected
-- traces, in order. Only start times (8 bytes a span) are gathered and sorted here, on the server;
-- each slice is then exported and sorted on its own (export_spans.sql). No window functions:
-- ClickHouse 18.16 has none.
SELECT arrayJoin(arrayFilter((s, i) -> (i - 1) % {slice_rows} = 0, sorted, arrayEnumerate(sorted))) AS s
FROM (
    SELECT arraySort(groupArray(start_time_unix_nano)) AS sorted
    FROM {span_data} FINAL
    WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
      {narrowing}
)
