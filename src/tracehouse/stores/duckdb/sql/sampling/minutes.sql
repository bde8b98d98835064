-- What each policy kept and dropped per minute since $since (unix ns).
SELECT epoch_ns(minute) AS minute_unix_nano, policy,
       sum(kept_traces)::BIGINT AS kept_traces, sum(dropped_traces)::BIGINT AS dropped_traces,
       sum(kept_spans)::BIGINT AS kept_spans, sum(dropped_spans)::BIGINT AS dropped_spans,
       sum(kept_bytes)::BIGINT AS kept_bytes, sum(dropped_bytes)::BIGINT AS dropped_bytes,
       sum(kept_weight) AS kept_weight
FROM sampling_minute
WHERE minute >= make_timestamp_ns($since)
GROUP BY ALL
ORDER BY minute_unix_nano, policy;
