-- Whether any kept trace stands for more than itself (a weight above 1): without one, no window
-- has sampled spans and the analyses need no weighted counts. EXISTS stops at the first.
SELECT EXISTS (SELECT 1 FROM sampling_decision WHERE kept AND weight > 1);
