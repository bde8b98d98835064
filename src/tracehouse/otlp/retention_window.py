"""Spans that arrive already older than the store's retention window.

Retention deletes every span that started before `now - retention`, so acknowledging such a span as
stored would be a lie: it would be gone within one retention pass (a minute). The receivers refuse
it instead, through OTLP partial success, with a message that names the window and how to keep old
data (a longer --retention, or `tracehouse import`, whose data retention leaves alone).
"""

from __future__ import annotations

import time

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def human_duration(seconds: int) -> str:
    """7d, 12h, 90m, 45s: the largest unit that divides the duration exactly, as --retention takes it."""
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def oldest_kept_ns(retention_seconds: int, now_ns: int | None = None) -> int | None:
    """The earliest start time retention keeps at this moment; None when retention is off (0)."""
    if retention_seconds <= 0:
        return None
    return (time.time_ns() if now_ns is None else now_ns) - retention_seconds * 10**9


def too_old_reason(retention_seconds: int) -> str:
    """The rejection reason for such spans, as it reads after "rejected N span(s): N with"."""
    window = human_duration(retention_seconds)
    return (f"a start time older than the retention window of {window}, which would delete them at once "
            "(keep more with --retention / TRACEHOUSE_RETENTION, 0 keeps everything, or load old traces "
            "with `tracehouse import FILE`, which keeps them until deleted)")
