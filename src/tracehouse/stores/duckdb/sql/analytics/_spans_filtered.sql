-- selected_spans when the filter names a service, operation or attribute: the window's spans of the
-- selected traces.
, selected_spans AS NOT MATERIALIZED (
    SELECT * FROM window_spans WHERE t IN (SELECT t FROM selected)
)
