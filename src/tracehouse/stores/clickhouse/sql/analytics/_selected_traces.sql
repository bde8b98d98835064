        -- The traces an AnalysisFilter selects, as a subquery of trace ids over the LOCAL table (on a
        -- cluster it runs on each shard, next to that shard's traces): a trace with a span that started
        -- in [{start_ns}, {end_ns}) of {service} and {operation} (NULL = any), and for each attribute
        -- filter {re1}..{re4} ('' = unused; an RE2 expression over the JSON text, built by the store
        -- from the key and value, compared as text) some span in the window that carries it, as a
        -- span or a resource attribute.
        SELECT trace_id
        FROM {span_data_local}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
        GROUP BY trace_id
        HAVING countIf(({service} IS NULL OR service_name = {service})
                       AND ({operation} IS NULL OR span_name = {operation})) > 0
           AND ({re1} = '' OR countIf(match(attributes, {re1}) OR match(resource_attributes, {re1})) > 0)
           AND ({re2} = '' OR countIf(match(attributes, {re2}) OR match(resource_attributes, {re2})) > 0)
           AND ({re3} = '' OR countIf(match(attributes, {re3}) OR match(resource_attributes, {re3})) > 0)
           AND ({re4} = '' OR countIf(match(attributes, {re4}) OR match(resource_attributes, {re4})) > 0)
