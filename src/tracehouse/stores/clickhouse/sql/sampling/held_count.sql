-- (traces, spans) waiting for a decision: held rows not released.
SELECT uniqExact(trace_id), count()
FROM {held}
WHERE
-- include: sampling/_unreleased
