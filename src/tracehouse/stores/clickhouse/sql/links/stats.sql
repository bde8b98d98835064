-- How many live links, and their mean confidence.
SELECT count(), avg(confidence)
FROM (SELECT deleted, confidence FROM {links} FINAL) AS latest
WHERE deleted = 0
SETTINGS optimize_move_to_prewhere = 0
