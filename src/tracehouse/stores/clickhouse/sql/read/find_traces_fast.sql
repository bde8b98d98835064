-- Trace search from the per-trace summaries (schema/trace_summary.sql), for searches without
-- attribute filters whose window starts after the oldest summary hour (retention may have left that
-- hour's rows counting deleted spans). The rows from the window's start hour on hold every span of
-- the traces that start in the window. The candidates clause is empty when no span filter is given, else a
-- condition on trace_id from the search index (read/_index_candidates.sql), which the shards run
-- against their own index. Root names and exact counts of the traces returned come from the spans
-- (read/trace_facts.sql); the store falls back to read/find_traces.sql when they disagree.
SELECT
    lower(hex(trace_id)) AS trace_hex,
    start_ns,
    end_ns - start_ns AS duration_ns,
    span_count,
    error_count
FROM (
    SELECT
        trace_id,
        minMerge(start_ns)    AS start_ns,
        maxMerge(end_ns)      AS end_ns,
        countMerge(spans)     AS span_count,
        countIfMerge(errors)  AS error_count
    FROM {summary}
    WHERE bucket >= {bucket_min} {candidates}
-- include: read/_found_traces_tail
