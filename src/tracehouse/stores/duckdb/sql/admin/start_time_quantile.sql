-- The start time below which `$fraction` of the stored spans lie (used to trim to a size cap).
SELECT epoch_ns(quantile_disc(start_time, $fraction)) FROM span_data;
