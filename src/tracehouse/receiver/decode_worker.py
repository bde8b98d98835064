"""The decode worker's process: `python -m tracehouse.receiver.decode_worker FD`.

It reads lists of spooled payloads from the socket FD and answers each with a header
("ok", rows, buffer lengths, spans rejected, why) and the packed buffers (tracehouse.otlp.walk);
it exits when the backend closes its end. See decoder.py for why the walk runs here.

This module must not import pyarrow (or anything that does): that would add ~45 MB of resident
set to the worker (ADR 8). A test checks it.
"""

from __future__ import annotations

import signal
import sys
import traceback
from multiprocessing.connection import Connection

from tracehouse.otlp.walk import packed_payloads
from tracehouse.receiver import allocator


def serve(conn: Connection) -> None:
    while True:
        try:
            payloads = conn.recv()
        except EOFError:
            return
        try:
            packed = packed_payloads(payloads)
        except Exception:
            conn.send(("error", 0, (), 0, traceback.format_exc()))
            continue
        conn.send(("ok", packed.rows, packed.lengths, packed.rejected, packed.error_message))
        conn.send_bytes(packed.data)


def main(argv: list[str]) -> None:
    allocator.configure()   # payload and column buffers go back to the kernel when freed (ADR 12)
    # Ctrl-C reaches the whole process group; the backend decides when the worker stops, after it
    # has drained the spool, so the worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv)
