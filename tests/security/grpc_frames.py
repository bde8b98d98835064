"""A gRPC unary call over raw HTTP/2 (h2), for what grpc's own client never sends: a message whose
compressed flag is set and whose bytes we choose (e.g. two gzip members back to back)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events


@dataclass
class RawAnswer:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def grpc_status(self) -> int:
        # A refusal before any message comes "trailers-only": the status is in the headers.
        return int(self.trailers.get("grpc-status", self.headers.get("grpc-status", "-1")))

    @property
    def grpc_message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


def unary_call(target: str, path: str, message: bytes, encoding: str | None, timeout: float = 30.0) -> RawAnswer:
    """One length-prefixed message on a new connection; `encoding` set means the compressed flag is
    set and `grpc-encoding: <encoding>` is sent, with `message` as the compressed bytes."""
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", target),
               ("content-type", "application/grpc"), ("te", "trailers")]
    if encoding:
        headers.append(("grpc-encoding", encoding))
    conn.send_headers(stream, headers)
    conn.send_data(stream, struct.pack(">BI", 1 if encoding else 0, len(message)) + message, end_stream=True)
    answer = RawAnswer()
    try:
        sock.sendall(conn.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    answer.headers = {str(k): str(v) for k, v in event.headers}
                elif isinstance(event, h2.events.DataReceived):
                    answer.data += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    answer.trailers = {str(k): str(v) for k, v in event.headers}
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    ended = True
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return answer
