-- Summarise the given hours (their signatures: (hour, call rows, last derived_at), read just before)
-- from the calls, under a new version: one row per (hour, parent, child) and one marker row per hour.
-- The signatures are read before the calls: calls written in between make the stored signature
-- older than the summary, so the next reader summarises the hour again (never the reverse).
INSERT INTO {hours}
SELECT intDiv(start_time_unix_nano, {bucket_ns}) AS h, parent_service, service_name, {version},
       toUInt64(0), toUInt64(0), count(), countIf(status_code = 2), quantileExactState(0.95)(duration_ns)
FROM {calls} FINAL
WHERE intDiv(start_time_unix_nano, {bucket_ns}) IN {hours_list}
GROUP BY h, parent_service, service_name
UNION ALL
SELECT tupleElement(s, 1), '', '', {version}, tupleElement(s, 2), tupleElement(s, 3), toUInt64(0), toUInt64(0),
       quantileExactStateIf(0.95)(toInt64(0), 0)
FROM (SELECT arrayJoin({signatures}) AS s)
GROUP BY s
