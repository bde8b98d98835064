-- The cleanup: held rows below the watermark (every one of them released). A mutation, run
-- periodically for many traces at once, never per decision.
ALTER TABLE {held_local} {on_cluster} DELETE WHERE received_unix_nano < {watermark}
