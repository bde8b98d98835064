-- Pins whose time has passed go (run by every retention pass, in the same transaction).
DELETE FROM retention_pin_data WHERE keep_until_unix_nano <= $now;
