-- selected_spans when the filter names no service, operation or attribute (analytics.py chooses):
-- every trace with a span in the window is selected, so every window span is a selected trace's.
-- Testing `t IN selected` anyway costs a 1M-entry hash table and 4.7M probes (0.1 s of CPU on the
-- 1M-trace benchmark) for nothing.
, selected_spans AS NOT MATERIALIZED (
    SELECT * FROM window_spans
)
