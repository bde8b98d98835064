"""OTLP decoding, shared by the gRPC and HTTP receivers: bodies in, validated Arrow batches out."""

from tracehouse.otlp.columns import DecodedBatch
from tracehouse.otlp.compression import decompress
from tracehouse.otlp.errors import BodyTooLargeError, DecodeError
from tracehouse.otlp.json import decode_json
from tracehouse.otlp.protobuf import decode_protobuf

__all__ = [
    "BodyTooLargeError",
    "DecodeError",
    "DecodedBatch",
    "decode_json",
    "decode_protobuf",
    "decompress",
]
