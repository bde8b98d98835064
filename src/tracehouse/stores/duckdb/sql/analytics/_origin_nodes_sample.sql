-- `nodes` of origins.sql over a fixed sample of the traces (those whose hash is below $sample_below):
-- their spans are few enough to hold (20,000 traces of ~11 spans: ~9 MB), so the window is scanned
-- once instead of once per level of the climb (an hour of 2M spans at 1M traces: 1.5 s of CPU a
-- side over every trace; bench/scale_bench.py).
, nodes AS MATERIALIZED (
    SELECT k, pk, parent_span_id IS NULL AS is_root, hash(service_name, span_name) AS label,
           service_name = $target_service AS same_service
    FROM window_spans
    WHERE t < $sample_below
)
