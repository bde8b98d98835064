cityHash64(trace_id) % {slices} = {part}
