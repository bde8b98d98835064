-- What the periodic cleanup may delete: the oldest held row still waiting (its received time bounds
-- the watermark below which every held row is released), the dropped decisions older than
-- {before}, the minutes older than {minutes_before}, and whether a delete of held rows is running.
SELECT
    (SELECT count() FROM {held} WHERE
-- include: sampling/_unreleased
    ),
    (SELECT min(received_unix_nano) FROM {held} WHERE
-- include: sampling/_unreleased
    ),
    (SELECT count() FROM {decisions} WHERE kept = 0 AND decided_unix_nano < {before}),
    (SELECT count() FROM {minutes} WHERE minute_unix_nano < {minutes_before}),
    (SELECT count() FROM {mutations} WHERE database = {database_name} AND table = 'sampling_held_span_local'
                                          AND is_done = 0)
