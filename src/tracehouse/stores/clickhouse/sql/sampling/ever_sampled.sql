-- Whether any kept trace stands for more than itself (a weight above 1): without one, span counts
-- need no join with the decisions.
SELECT count() FROM {decisions} WHERE kept = 1 AND weight > 1
