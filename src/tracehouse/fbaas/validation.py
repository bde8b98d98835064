"""Validation of the one request shape every FBaaS service accepts: a JSON body `{"number": <int>}`.

Shared by the three services so a bad request gets the same 4xx and wording wherever it lands.
"""

from __future__ import annotations

import json
from typing import Any


class InvalidRequest(Exception):
    """A request the client must fix; `status` is the 4xx to answer with, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_number_request(content_type: str | None, body: bytes) -> int:
    """Return the integer in `{"number": n}`, or raise InvalidRequest (415, 400 or 422)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InvalidRequest(415, f'expected Content-Type application/json, got {media_type or "none"!r}')
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, malformed JSON and integers beyond Python's digit limit.
        raise InvalidRequest(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest(422, 'expected a JSON object like {"number": 15}')
    if "number" not in payload:
        raise InvalidRequest(422, 'missing "number" (expected a JSON object like {"number": 15})')
    number = payload["number"]
    # bool is a subclass of int in Python, and 3.0 is not what the client should be sending.
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidRequest(422, f'"number" must be an integer, got {json.dumps(number)}')
    return number
