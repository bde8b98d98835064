-- The start time below which {fraction} of the stored spans lie (used to trim to a size cap).
SELECT quantileExact({fraction})(start_time_unix_nano) FROM {span_data}
