-- Forget the held spans of decided traces (registered as `wanted`).
DELETE FROM sampling_held_span WHERE trace_id IN (SELECT trace_id FROM wanted);
