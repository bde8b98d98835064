-- The traces and spans route_of works on, shared by _route_keys_sample.sql and
-- _route_keys_halves.sql (each includes it): those whose trace hash is below $sample_below, or all
-- of them when it is NULL. `labelled` carries each span's service:operation as a hash, so only
-- UBIGINTs cross the join that follows.
, labelled AS NOT MATERIALIZED (
    SELECT t, k, pk, hash(service_name, span_name) AS label FROM selected_spans
    WHERE $sample_below::UBIGINT IS NULL OR t < $sample_below
),
sampled AS NOT MATERIALIZED (
    SELECT * FROM selected WHERE $sample_below::UBIGINT IS NULL OR t < $sample_below
),
