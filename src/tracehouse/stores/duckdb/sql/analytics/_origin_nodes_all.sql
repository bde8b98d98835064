-- `nodes` of origins.sql over every selected trace: not materialised (every span of the window
-- would not fit the store's 128 MB), so each level of the climb scans the window's spans again.
, nodes AS NOT MATERIALIZED (
    SELECT k, pk, parent_span_id IS NULL AS is_root, hash(service_name, span_name) AS label,
           service_name = $target_service AS same_service
    FROM window_spans
)
