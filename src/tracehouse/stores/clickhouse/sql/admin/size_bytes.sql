-- Bytes on disk of the active parts of every table of the store (one replica of each shard).
SELECT sum(bytes_on_disk) FROM {parts} WHERE database = {database_name} AND active
