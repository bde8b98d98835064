"""The spool: an append-only, fsync'd log of validated export requests.

An export is acknowledged once its payload is in the spool and the spool is synced, so a crash at
any moment loses nothing that was acknowledged. Many requests share one fsync (group commit).
Records are converted into the store in large batches behind it; the position up to which they are
in the store is kept in `applied`, and on start-up everything after it is replayed (the store's
writes are idempotent, so a record replayed twice is stored once).

Layout: spool/<n:012d>.log segments of records `[u32 length][u32 crc32][payload]`, little-endian.
A torn record at the end of the last segment (a crash mid-write, never acknowledged) is cut off.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
SEGMENT_BYTES = 64 * 2**20


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


class Spool:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._applied_path = directory / "applied"
        self._fd = -1
        self._segment = 0
        self._offset = 0

    # ---- recovery
    def applied(self) -> Position:
        try:
            segment, offset = self._applied_path.read_text().split()
            return Position(int(segment), int(offset))
        except (OSError, ValueError):
            return Position(0, 0)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.log") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}.log"

    def recover(self) -> Iterator[tuple[Position, bytes]]:
        """Yield every record after the applied position, then open the log for appending.

        Must be consumed fully before `append`. A torn tail of the last segment is truncated."""
        start = self.applied()
        segments = self._segments()
        for segment in segments:
            if segment < start.segment:
                continue
            path = self._path(segment)
            data = path.read_bytes()
            pos = start.offset if segment == start.segment else 0
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                payload = data[pos + _HEADER.size:end]
                if end > len(data) or zlib.crc32(payload) != crc:
                    break
                pos = end
                yield Position(segment, pos), payload
            if pos < len(data):
                if segment != segments[-1]:
                    log.warning("spool segment %s has a damaged record at %d; the rest is skipped", path, pos)
                else:
                    log.warning("cutting a torn record (never acknowledged) off %s at %d", path, pos)
                    with path.open("r+b") as f:
                        f.truncate(pos)
                        os.fsync(f.fileno())
        self._open(segments[-1] if segments else max(start.segment, 1))

    def _open(self, segment: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._segment = segment
        self._fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._offset = os.fstat(self._fd).st_size
        self._sync_directory()

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- appending
    def append(self, payloads: list[bytes]) -> list[Position]:
        """Write the payloads and fsync once. Returns each record's end position. Durable on return."""
        if self._fd < 0:
            raise RuntimeError("recover() must run before append()")
        if self._offset >= self.segment_bytes:
            self._open(self._segment + 1)
        chunks: list[bytes] = []
        ends: list[Position] = []
        offset = self._offset
        for payload in payloads:
            chunks.append(_HEADER.pack(len(payload), zlib.crc32(payload)))
            chunks.append(payload)
            offset += _HEADER.size + len(payload)
            ends.append(Position(self._segment, offset))
        written = os.writev(self._fd, chunks) if len(chunks) <= 1024 else os.write(self._fd, b"".join(chunks))
        if written != offset - self._offset:
            # A short write (disk full): nothing is acknowledged; reopen at the file's real end.
            self._open(self._segment)
            raise OSError(f"short write to the spool ({written} of {offset - self._offset} bytes)")
        os.fdatasync(self._fd)
        self._offset = offset
        return ends

    def read(self, records: list[tuple[Position, int]]) -> list[bytes]:
        """The payloads of the given records: (end position as `append` returned it, payload length),
        in order, opening each segment once. Safe to call from another thread while `append` runs: the
        pipeline keeps only positions in memory and reads payloads back (from the page cache,
        normally) when it decodes them."""
        payloads: list[bytes] = []
        fd, segment = -1, -1
        try:
            for end, length in records:
                if end.segment != segment:
                    if fd >= 0:
                        os.close(fd)
                    fd, segment = os.open(self._path(end.segment), os.O_RDONLY), end.segment
                payload = os.pread(fd, length, end.offset - length)
                if len(payload) != length:
                    raise OSError(f"spool segment {segment} is shorter than a record it should hold")
                payloads.append(payload)
        finally:
            if fd >= 0:
                os.close(fd)
        return payloads

    def mark_applied(self, position: Position) -> None:
        """Record that everything up to `position` is in the store; drop segments wholly before it."""
        tmp = self._applied_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(f"{position.segment} {position.offset}\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._applied_path)
        for segment in self._segments():
            if segment < position.segment:
                self._path(segment).unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
