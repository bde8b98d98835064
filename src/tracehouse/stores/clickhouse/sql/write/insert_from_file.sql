-- chDB only: a Native block written to a private file, inserted as is.
INSERT INTO {table} SELECT * FROM file({path}, 'Native')
