AND trace_id IN (
        SELECT trace_id FROM {index_local}
        WHERE {service_clause} start_time_unix_nano >= {start_min} AND start_time_unix_nano <= {candidate_start_max}
          AND ({operation} IS NULL OR span_name = {operation})
          AND ({span_kind} IS NULL OR span_kind = {span_kind})
          AND duration_ns >= {span_dur_min} AND duration_ns <= {span_dur_max})
