"""The decode worker's process: `python -m tracehouse.receiver.decode_worker FD`.

It reads lists of spooled payloads from the socket FD and answers each with a header
("ok", spans rejected, why) and the spans as one Arrow IPC stream; it exits when the backend closes
its end. See decoder.py for why the walk runs here.
"""

from __future__ import annotations

import signal
import sys
import traceback
from multiprocessing.connection import Connection

import pyarrow as pa

from tracehouse.otlp.columns import decode_payloads_ipc
from tracehouse.receiver.decoder import keep_pandas_out


def serve(conn: Connection) -> None:
    while True:
        try:
            payloads = conn.recv()
        except EOFError:
            return
        try:
            ipc, rejected, message = decode_payloads_ipc(payloads)
        except Exception:
            conn.send(("error", 0, traceback.format_exc()))
            continue
        conn.send(("ok", rejected, message))
        conn.send_bytes(memoryview(ipc))


def main(argv: list[str]) -> None:
    # Ctrl-C reaches the whole process group; the backend decides when the worker stops, after it
    # has drained the spool, so the worker must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_pandas_out()
    # Arrow's default pool (mimalloc) kept freed chunks' memory mapped: the worker's peak RSS was
    # 12 MB higher under the ingest benchmark with it than with the C library's malloc.
    pa.set_memory_pool(pa.system_memory_pool())
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv)
