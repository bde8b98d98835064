"""Why a request body was refused. The receivers map these onto HTTP statuses and gRPC codes."""


class DecodeError(ValueError):
    """The body cannot be decoded (400 / INVALID_ARGUMENT; not retryable). The message says what was wrong."""


class BodyTooLargeError(ValueError):
    """The body exceeds the size cap after decompression (413)."""
