"""Parsing what users type: '5%', '250ms', '1h', 'fizzer:GET /fizz=-50%', 'key=value'."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
             "d": 86400 * 10**9}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)\s*")


class ParseError(ValueError):
    """Something a user typed cannot be understood; the message says what was expected."""


def parse_duration_ns(text: str) -> int:
    m = _DURATION.fullmatch(text)
    if not m:
        raise ParseError(f"not a duration: {text!r} (examples: 250ms, 1.5s, 15m, 1h)")
    return int(float(m.group(1)) * _UNITS_NS[m.group(2)])


def parse_fraction(text: str) -> float:
    """'5%' or '0.05' -> 0.05."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError as exc:
        raise ParseError(f"not a percentage: {text!r} (example: 5%)") from exc
    if not 0 < value < 1:
        raise ParseError(f"the percentage must be between 0% and 100%, got {text!r}")
    return value


def parse_time_ns(text: str) -> int:
    """An ISO-8601 time (UTC unless it says otherwise) or unix seconds."""
    raw = text.strip()
    try:
        return int(float(raw) * 10**9)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ParseError(f"not a time: {text!r} (examples: 2026-01-31T12:00, 1769860800)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 10**9)


def parse_attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParseError(f"an attribute filter is key=value, got {text!r}")
    return key.strip(), value.strip()


@dataclass(frozen=True)
class WhatIf:
    """A hypothetical change: make SERVICE[:OPERATION]'s own time shorter by `minus_ns` or `fraction`."""

    service: str
    operation: str | None
    minus_ns: int | None = None
    fraction: float | None = None     # 0.5 for -50%

    def matches(self, service: str, operation: str) -> bool:
        return service == self.service and (self.operation is None or operation == self.operation)

    def describe(self) -> str:
        target = self.service + (f":{self.operation}" if self.operation else "")
        change = f"-{self.minus_ns / 1e6:g}ms" if self.minus_ns is not None else f"-{(self.fraction or 0) * 100:g}%"
        return f"{target}={change}"


def parse_what_if(text: str) -> WhatIf:
    target, sep, change = text.rpartition("=")
    change = change.strip()
    if not sep or not target.strip() or not change.startswith("-"):
        raise ParseError(f"a what-if is SERVICE[:OPERATION]=-100ms or =-50%, got {text!r}")
    service, _, operation = target.strip().partition(":")
    amount = change[1:]
    if amount.endswith("%"):
        fraction = parse_fraction(amount) if amount != "100%" else 1.0
        return WhatIf(service, operation or None, fraction=fraction)
    return WhatIf(service, operation or None, minus_ns=parse_duration_ns(amount))
