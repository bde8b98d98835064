-- route_of for routes.sql over every selected trace (or a large sample; analytics.py chooses). The
-- route key and why it needs a join: see routes.sql.
--
-- Measured on 1M traces / 4.7M spans at 128 MB (2 cores): labels are hashed before the join, so
-- only UBIGINTs cross it (carrying the name strings through it cost 3.0 s instead of 1.3 s). With
-- that, one join over all spans fails at 128 MB ("failed to allocate 16 MiB": its hash table's
-- directory does not spill), so it runs as two halves split by trace hash, each scanning the spans
-- again (1.45 s of CPU against 1.25 s for the single join where it fits).
-- include: analytics/_sampled_spans
route_of AS (
    SELECT c.t, sum(hash(p.label, c.label)) AS route_key
    FROM labelled c LEFT JOIN (SELECT k, label FROM labelled WHERE t % 2 = 0) p ON p.k = c.pk
    WHERE c.t % 2 = 0
    GROUP BY c.t
    UNION ALL
    SELECT c.t, sum(hash(p.label, c.label)) AS route_key
    FROM labelled c LEFT JOIN (SELECT k, label FROM labelled WHERE t % 2 = 1) p ON p.k = c.pk
    WHERE c.t % 2 = 1
    GROUP BY c.t
)
