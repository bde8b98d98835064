-- Bytes in use by the database file: used blocks times block size (free blocks are reused).
SELECT used_blocks * block_size FROM pragma_database_size() WHERE database_name = current_database();
