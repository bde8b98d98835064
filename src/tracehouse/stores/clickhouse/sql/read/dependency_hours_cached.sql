-- The summaries of the hours of the window in the cache: each version's marker
-- row with the signature it was made at (the reader takes each hour's latest version).
SELECT hour, version, call_rows, last_derived
FROM {hours}
WHERE hour >= {first_hour} AND hour < {end_hour} AND parent_service = '' AND service_name = ''
