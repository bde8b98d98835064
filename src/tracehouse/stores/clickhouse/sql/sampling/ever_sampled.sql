-- Whether any kept trace stands for more than itself (a weight above 1): without one, span counts
-- need no join with the decisions, and the analyses need no weighted counts. LIMIT 1: stops at the first.
SELECT count() FROM (SELECT 1 FROM {decisions} WHERE kept = 1 AND weight > 1 LIMIT 1)
