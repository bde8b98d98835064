-- Which of {trace_ids} (traces whose held rows reach the size cap) hold {max_spans} spans: each
-- span once (trace, span id, start), as held_facts.sql counts them and write_spans stores them.
SELECT lower(hex(trace_id)) AS id
FROM {held}
WHERE trace_id IN {trace_ids}
  AND
-- include: sampling/_unreleased
GROUP BY trace_id
HAVING uniqExact(span_id, start_time_unix_nano) >= {max_spans}
