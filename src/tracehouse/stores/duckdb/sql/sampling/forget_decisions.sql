-- Forget dropped decisions older than the decision cache ($before, unix ns). Kept ones are weights: they stay.
DELETE FROM sampling_decision WHERE NOT kept AND decided_unix_nano < $before;
