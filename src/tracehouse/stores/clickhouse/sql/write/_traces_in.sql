trace_id IN (SELECT toFixedString(unhex(arrayJoin({hex_ids})), 16))
