SELECT count(DISTINCT trace_id), count(*) FROM sampling_held_span;
