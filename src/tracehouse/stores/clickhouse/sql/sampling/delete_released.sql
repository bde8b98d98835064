-- The cleanup, once the held rows below the watermark are gone: their releases.
ALTER TABLE {released_local} {on_cluster} DELETE WHERE received_unix_nano < {watermark}
