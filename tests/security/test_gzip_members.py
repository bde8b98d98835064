"""gzip by RFC 1952: a body may be several gzip members back to back, and its content is all of them.
Before, only the first member was decoded and the request was still answered 200: spans lost."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest
from tests.backend.otlp_requests import JSON, PROTOBUF, fbaas_request, parse_status

from tracehouse.otlp.compression import decompress
from tracehouse.otlp.errors import BodyTooLargeError, DecodeError

from .conftest import SecureBackend, SecureBackendFactory
from .grpc_frames import unary_call


@pytest.fixture(scope="module")
def server(secure_backends: SecureBackendFactory) -> Iterator[SecureBackend]:
    backend = secure_backends("--max-body", str(4 * 2**20))
    yield backend
    assert backend.alive() and "Traceback" not in backend.log(), backend.log()[-3000:]
    assert backend.stop() == 0


def test_two_protobuf_members_store_both(server: SecureBackend) -> None:
    # Protobuf concatenation is message merging: two requests' bytes back to back are one request
    # holding both requests' resource spans.
    first, second = fbaas_request(2), fbaas_request(3)
    body = gzip.compress(first.protobuf()) + gzip.compress(second.protobuf())
    response = server.post_traces(body, {"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    server.wait_stored(first.span_ids + second.span_ids)


def test_a_json_body_split_across_members(server: SecureBackend) -> None:
    built = fbaas_request(2)
    text = built.json()
    middle = len(text) // 2
    body = gzip.compress(text[:middle]) + gzip.compress(text[middle:], compresslevel=1) + b"\0" * 8
    response = server.post_traces(body, {"Content-Encoding": "gzip"}, JSON)
    assert response.status_code == 200, response.text
    server.wait_stored(built.span_ids)


def test_the_size_cap_counts_every_member(server: SecureBackend) -> None:
    # Each member alone is under the 4 MiB cap; together they are over it.
    member = gzip.compress(b"\n" * (3 * 2**20))
    response = server.post_traces(member + member, {"Content-Encoding": "gzip"})
    assert response.status_code == 413, response.text
    assert "after gzip decompression" in parse_status(response.content, PROTOBUF).message


@pytest.mark.parametrize(("tail", "message"), [(b"garbage!", "member 2"), (gzip.compress(b"x")[:-4], "truncated")],
                         ids=["garbage", "truncated-member"])
def test_a_broken_second_member_is_refused_not_dropped(server: SecureBackend, tail: bytes, message: str) -> None:
    built = fbaas_request(1)
    response = server.post_traces(gzip.compress(built.protobuf()) + tail, {"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text
    assert message in parse_status(response.content, PROTOBUF).message
    server.send(fbaas_request(1))  # the backend still serves
    assert server.stored(built.span_ids) == set()


def test_members_in_process() -> None:
    a, b, c = (gzip.compress(bytes([i]) * 1000) for i in (1, 2, 3))
    assert decompress(a + b + c, "gzip", 3000) == b"\1" * 1000 + b"\2" * 1000 + b"\3" * 1000
    with pytest.raises(BodyTooLargeError):
        decompress(a + b + c, "gzip", 2999)
    # deflate (zlib) has no members: bytes after its end are an error, not silently ignored.
    with pytest.raises(DecodeError, match="follow the end"):
        decompress(zlib.compress(b"x") + zlib.compress(b"y"), "deflate", 100)


# ---- gRPC: grpc itself decompresses a message (its compressed flag and `grpc-encoding: gzip`) before
# our handler sees it, so what it does with a second member is what the backend does. Its client
# compresses each message as one member, so the call is made over raw HTTP/2 (grpc_frames.py).

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_INTERNAL = 13


def test_grpc_one_gzip_member_is_stored(server: SecureBackend) -> None:
    built = fbaas_request(2)
    answer = unary_call(server.otlp_grpc, EXPORT, gzip.compress(built.protobuf()), "gzip")
    assert answer.grpc_status == 0, answer
    server.wait_stored(built.span_ids)


@pytest.mark.parametrize("tail", ["second-member", "zero-padding", "garbage"])
def test_grpc_a_message_of_several_gzip_members_is_refused_whole_never_half_stored(server: SecureBackend,
                                                                                  tail: str) -> None:
    """grpc's decompressor (zlib in grpc core) stops at the end of the first member and refuses the
    message when input is left ("not all input consumed"): the client gets an error, and no span
    of either member is stored. Never a 200 for the first half."""
    first, second = fbaas_request(2), fbaas_request(3)
    rest = {"second-member": gzip.compress(second.protobuf()), "zero-padding": b"\0" * 8,
            "garbage": b"garbage!"}[tail]
    answer = unary_call(server.otlp_grpc, EXPORT, gzip.compress(first.protobuf()) + rest, "gzip")
    assert answer.grpc_status == _INTERNAL, answer
    assert "decompress" in answer.grpc_message.lower(), answer
    after = fbaas_request(1)
    server.send(after)   # the backend still serves; commits follow the spool's order, so once this is
    server.wait_stored(after.span_ids)   # stored, anything acknowledged before it would be too
    assert server.stored(first.span_ids + second.span_ids) == set()
