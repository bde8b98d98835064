-- route_of for routes.sql over a sample of at most 250,000 traces (analytics.py chooses): their
-- spans fit one join in the store's 128 MB, so the spans are scanned twice instead of four times
-- as in _route_keys_halves.sql (0.30 s instead of 0.42 s for 200,000 of 1M traces).
-- include: analytics/_sampled_spans
route_of AS (
    SELECT c.t, sum(hash(p.label, c.label)) AS route_key
    FROM labelled c LEFT JOIN labelled p ON p.k = c.pk
    GROUP BY c.t
)
