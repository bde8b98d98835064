-- {narrowing} when the filter names an attribute: the traces _selected_traces.sql selects from the
-- window's spans (attributes are only in the span table).
AND trace_id IN (
-- include: analytics/_selected_traces
)
