SELECT count(*), avg(confidence) FROM inferred_link_data;
