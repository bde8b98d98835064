-- Add to the per-minute counts (registered as `minutes`: the columns of sampling_minute).
INSERT INTO sampling_minute SELECT minute, policy, kept_traces, dropped_traces, kept_spans, dropped_spans,
       kept_bytes, dropped_bytes, kept_weight
FROM minutes;
