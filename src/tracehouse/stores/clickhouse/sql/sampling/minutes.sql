-- What each policy kept and dropped per minute since {since}: FINAL counts a settlement written
-- twice (two instances, a retried pass) once; late rows add spans and bytes, not traces.
SELECT minute_unix_nano, policy,
       countIf(kept = 1 AND late = 0), countIf(kept = 0 AND late = 0),
       sumIf(spans, kept = 1), sumIf(spans, kept = 0),
       sumIf(approx_bytes, kept = 1), sumIf(approx_bytes, kept = 0),
       sumIf(weight, kept = 1 AND late = 0)
FROM {minutes} FINAL
WHERE minute_unix_nano >= {since}
GROUP BY minute_unix_nano, policy
ORDER BY minute_unix_nano, policy
