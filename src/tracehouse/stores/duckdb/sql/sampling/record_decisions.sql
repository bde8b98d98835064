-- Record new decisions (registered as `decided`: the columns of sampling_decision).
INSERT INTO sampling_decision SELECT trace_id, kept, probability, weight, threshold, policy, decided_unix_nano
FROM decided;
