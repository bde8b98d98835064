-- Held rows below the watermark (all released): what delete_held.sql would delete.
SELECT count() FROM {held} WHERE received_unix_nano < {watermark}
