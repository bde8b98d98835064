"""Free TCP ports on loopback, for starting services on ports chosen in advance (benchmarks and tests)."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports.

    Every probe socket stays bound until all the ports are chosen: closing each before binding the
    next lets the kernel hand out the same ephemeral port twice (CI once gave the hub and the gRPC
    receiver one port).
    """
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
