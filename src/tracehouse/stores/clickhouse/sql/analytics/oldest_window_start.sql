-- Where the summaries' selection may start (analytics/_window_trace_parts.sql): the earliest span of
-- the search index in the summaries' oldest hour (read/oldest_bucket.sql), which ends at {before}.
-- Retention deletes spans before its cutoff from the index, whole hours before it from the
-- summaries, and spares pinned traces' spans in the span table only: a window that starts at or
-- after this span holds no spared span, and its part of the oldest hour (whose summaries may still
-- count deleted spans) is read from the index. NULL when that hour has no span in the index (an
-- empty min() is 0 on 18.16, not NULL).
SELECT if(count() = 0, NULL, min(start_time_unix_nano)) FROM {index} WHERE start_time_unix_nano < {before}
