"""Rendering query results as JSON: one rule for the API, the CLI and the UI."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any


def json_value(value: Any) -> Any:
    """Make one SQL result value JSON-safe, keeping numbers and booleans as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)
