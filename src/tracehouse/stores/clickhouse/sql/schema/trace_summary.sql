-- Per-trace summaries by hour: one row per (hour of a span's start, trace) with the aggregate
-- states of the trace's spans that started in that hour (first start, last end, spans, error
-- spans), merged by AggregatingMergeTree and by -Merge at read. A search reads only the hours from
-- its window's start on: every span of a trace that starts in the window starts at or after the
-- window's start, so those rows hold the whole trace. Ordered by (bucket, trace id): that read is
-- one primary-key range. Fed by trace_summary_mv from every insert into the span table. Counts may
-- include a span re-sent before a merge; the store recounts the traces it returns from the spans.
CREATE TABLE IF NOT EXISTS {summary_local} {on_cluster} (
    bucket   Int64,
    trace_id FixedString(16),
    start_ns AggregateFunction(min, Int64),
    end_ns   AggregateFunction(max, Int64),
    spans    AggregateFunction(count),
    errors   AggregateFunction(countIf, UInt8)
) ENGINE = {summary_engine}
PARTITION BY toDate(bucket * 3600)
ORDER BY (bucket, trace_id)
