(start_time_unix_nano >= {start} AND start_time_unix_nano < {end}
 AND intDiv(start_time_unix_nano, {bucket_ns}) >= intDiv({start}, {bucket_ns})
 AND intDiv(start_time_unix_nano, {bucket_ns}) <= intDiv({end}, {bucket_ns}))
