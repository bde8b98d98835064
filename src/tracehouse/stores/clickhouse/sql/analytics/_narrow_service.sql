-- {narrowing} when the filter names a service or an operation and no attribute: the traces with a
-- span of the service and operation ({service_clause}: built by the store, as 18.16 cannot compare
-- the index's leading key column with NULL) that started in the window, from this shard's search
-- index (ordered by service and start time: one primary-key range per service).
AND trace_id IN (
        SELECT trace_id FROM {index_local}
        WHERE start_time_unix_nano >= {start_ns} AND start_time_unix_nano < {end_ns}
          {service_clause}
)
