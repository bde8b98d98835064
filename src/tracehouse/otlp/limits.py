"""Byte caps on what one span may bring, enforced before a request is acknowledged (ADR 12).

A span the store cannot hold must never be acknowledged: it would be retried forever and block every
span behind it (a "poison pill"). So, at receive time:

- attribute string and bytes values longer than `attribute_value_max_bytes` are truncated, as the
  OpenTelemetry SDKs do with their attribute value length limit (strings cut at a UTF-8 character
  boundary; each string of an array value too), and the span is flagged with the attribute
  `tracehouse.truncated_attributes` (the keys truncated);
- events and links past `events_max` / `links_max` are dropped, as the SDKs' span limits do, and
  counted in the span's `dropped_events_count` / `dropped_links_count`, and the span flagged with
  `tracehouse.dropped_events` / `tracehouse.dropped_links`;
- a span still larger than `span_max_bytes` (serialized) is refused, with a partial-success message.

The checks cost one length comparison per span unless the request is large enough for a value to
pass a cap, so the usual small request pays almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MiB = 2**20

TRUNCATED_FLAG = "tracehouse.truncated_attributes"
DROPPED_EVENTS_FLAG = "tracehouse.dropped_events"
DROPPED_LINKS_FLAG = "tracehouse.dropped_links"


@dataclass(frozen=True)
class SpanLimits:
    attribute_value_max_bytes: int = 1 * MiB
    events_max: int = 1_024
    links_max: int = 1_024
    span_max_bytes: int = 4 * MiB
    # A request is stored as records of at most this many spans and (about) bytes, so the decode
    # worker and the store never take a request's worth at once (a 64 MiB request holds 1M spans).
    record_max_spans: int = 2_048
    record_max_bytes: int = 4 * MiB


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode()
    return data[:limit].decode("utf-8", errors="ignore")


def _truncate_value(value: Any, limit: int) -> bool:
    """Truncate an AnyValue in place; True if anything was cut."""
    which = value.WhichOneof("value")
    if which == "string_value":
        text = value.string_value
        if len(text) > limit // 4 and len(text.encode()) > limit:   # len() in characters: cheap pre-check
            value.string_value = _cut_utf8(text, limit)
            return True
    elif which == "bytes_value":
        if len(value.bytes_value) > limit:
            value.bytes_value = value.bytes_value[:limit]
            return True
    elif which == "array_value":
        cut = False
        for item in value.array_value.values:
            cut = _truncate_value(item, limit) or cut
        return cut
    elif which == "kvlist_value":
        cut = False
        for kv in value.kvlist_value.values:
            cut = _truncate_value(kv.value, limit) or cut
        return cut
    return False


def _truncate_attributes(kvs: Any, limit: int) -> list[str]:
    return [kv.key for kv in kvs if kv.value.ByteSize() > limit and _truncate_value(kv.value, limit)]


def _flag(span: Any, key: str) -> Any:
    kv = span.attributes.add()
    kv.key = key
    return kv.value


def limit_resource(resource: Any, limits: SpanLimits) -> bool:
    """Truncate a resource's oversized attribute values in place; True if any was."""
    if resource.ByteSize() <= limits.attribute_value_max_bytes:
        return False
    return bool(_truncate_attributes(resource.attributes, limits.attribute_value_max_bytes))


def _note(notes: dict[str, int], reason: str) -> None:
    notes[reason] = notes.get(reason, 0) + 1


def limit_span(span: Any, limits: SpanLimits, big: bool, notes: dict[str, int]) -> tuple[str | None, bool]:
    """Apply the limits to one span in place. `big`: the request is large enough that a value may
    pass a byte cap. Counts what was changed in `notes`. Returns (why the span is refused or None,
    whether it was changed)."""
    changed = False
    if len(span.events) > limits.events_max:
        dropped = len(span.events) - limits.events_max
        del span.events[limits.events_max:]
        span.dropped_events_count += dropped
        _flag(span, DROPPED_EVENTS_FLAG).int_value = dropped
        _note(notes, f"events past the limit of {limits.events_max:,} dropped")
        changed = True
    if len(span.links) > limits.links_max:
        dropped = len(span.links) - limits.links_max
        del span.links[limits.links_max:]
        span.dropped_links_count += dropped
        _flag(span, DROPPED_LINKS_FLAG).int_value = dropped
        _note(notes, f"links past the limit of {limits.links_max:,} dropped")
        changed = True
    if not big:
        return None, changed
    size = span.ByteSize()
    cap = limits.attribute_value_max_bytes
    if size > cap:
        keys = _truncate_attributes(span.attributes, cap)
        for event in span.events:
            keys += [f"{event.name}: {k}" for k in _truncate_attributes(event.attributes, cap)]
        for link in span.links:
            keys += [f"link: {k}" for k in _truncate_attributes(link.attributes, cap)]
        if keys:
            flag = _flag(span, TRUNCATED_FLAG).array_value
            for key in keys:
                flag.values.add().string_value = key
            _note(notes, f"attribute values truncated to {cap:,} bytes")
            changed = True
            size = span.ByteSize()
    if size > limits.span_max_bytes:
        return f"a size of {size:,} bytes (the limit is {limits.span_max_bytes:,} per span)", changed
    return None, changed


def warning_message(notes: dict[str, int]) -> str:
    """What was changed in accepted spans (reason -> spans), for the partial-success message."""
    if not notes:
        return ""
    return "accepted with changes: " + "; ".join(f"{n} span(s) with {r}" for r, n in sorted(notes.items())) + "."
