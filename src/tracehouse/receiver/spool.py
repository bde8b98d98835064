"""The spool: an append-only, fsync'd log of validated export requests.

An export is acknowledged once its payload is in the spool and the spool is synced, so a crash at
any moment loses nothing that was acknowledged. Many requests share one fsync (group commit).
Records are converted into the store in large batches behind it; the position up to which they are
in the store is kept in `applied`, and on start-up everything after it is replayed (the store's
writes are idempotent, so a record replayed twice is stored once).

Layout: spool/<n:012d>.log segments of records `[u32 length][u32 crc32][payload]`, little-endian.

Hostile disks (ADR 12): an append that fails (disk full, I/O error, a short write, a failed
fdatasync) is never acknowledged and never leaves bytes that later records would sit behind: the
segment is cut back to its last good record, and if even that fails the spool moves on to a new
segment. Each start of the backend appends to a new segment too, so older segments are immutable
and are replayed in the background while new requests are acknowledged. A record that does not
check out (a torn write, never acknowledged) ends its segment's replay; later segments are still
replayed. Appends are refused while the filesystem has less than `reserve_bytes` free, so the store
can still commit and retention can still delete when the disk fills up.
"""

from __future__ import annotations

import errno
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


class SpoolFullError(OSError):
    """The spool's filesystem is (nearly) full: nothing was written; retry once space is freed."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding `directory`."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


class Spool:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES, reserve_bytes: int = 0) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.reserve_bytes = reserve_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._applied_path = directory / "applied"
        self._fd = -1
        self._segment = 0       # the segment appended to; records of earlier ones are the backlog
        self._offset = 0
        self._started = False

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

    def start(self) -> None:
        """Open a new segment, after every existing one, for appending. Records of the older segments
        are the backlog (`backlog()`), which may be replayed while new records are appended."""
        if self._started:
            return
        applied = self.applied()
        segments = self._segments()
        for segment in segments:
            # Empty segments (a start without traffic) hold nothing to replay.
            if segment != applied.segment and self._path(segment).stat().st_size == 0:
                self._path(segment).unlink(missing_ok=True)
        self._open(max([applied.segment, *segments]) + 1)
        self._started = True

    def backlog_bytes(self) -> int:
        """Bytes of spooled records not yet applied to the store, as far as file sizes tell."""
        applied = self.applied()
        total = 0
        for segment in self._segments():
            if segment < applied.segment or (self._started and segment >= self._segment):
                continue
            with_offset = applied.offset if segment == applied.segment else 0
            total += max(0, self._path(segment).stat().st_size - with_offset)
        return total

    def backlog(self) -> Iterator[tuple[Position, bytes]]:
        """Yield every record after the applied position in the segments before the one `start`
        opened (all of them if not started): what was acknowledged but may not be in the store."""
        start = self.applied()
        for segment in self._segments():
            if segment < start.segment or (self._started and segment >= self._segment):
                continue
            path = self._path(segment)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
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
                # Appends are rolled back when they fail, so this is a write torn by a crash (or a
                # power cut) that was never acknowledged. Records in later segments are still replayed.
                log.warning("cutting a torn record (never acknowledged) off %s at %d", path, pos)
                with path.open("r+b") as f:
                    f.truncate(pos)
                    os.fsync(f.fileno())
            del data

    def recover(self) -> Iterator[tuple[Position, bytes]]:
        """`start`, then yield the backlog. Must be consumed fully before the backlog's segments are
        marked applied by anything else."""
        self.start()
        yield from self.backlog()

    def _open(self, segment: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._fd, self._segment = fd, segment
        self._offset = os.fstat(fd).st_size
        self._sync_directory()

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- appending
    def append(self, payloads: list[bytes]) -> list[Position]:
        """Write the payloads and fsync once. Returns each record's end position. Durable on return.

        Raises OSError (SpoolFullError when the reserve would be touched) with nothing kept: a
        failed append leaves the spool exactly as it was before it."""
        if not self._started:
            raise RuntimeError("start() or recover() must run before append()")
        size = sum(_HEADER.size + len(p) for p in payloads)
        if self.reserve_bytes:
            free = free_bytes(self.directory)
            if free - size < self.reserve_bytes:
                raise SpoolFullError(f"the disk holding {self.directory} is full ({free // 2**20} MiB free, "
                                     f"{self.reserve_bytes // 2**20} MiB kept in reserve for the store)")
        if self._fd < 0 or self._offset >= self.segment_bytes:
            self._open(self._segment + 1)
        chunks: list[bytes] = []
        ends: list[Position] = []
        offset = self._offset
        for payload in payloads:
            chunks.append(_HEADER.pack(len(payload), zlib.crc32(payload)))
            chunks.append(payload)
            offset += _HEADER.size + len(payload)
            ends.append(Position(self._segment, offset))
        try:
            written = os.writev(self._fd, chunks) if len(chunks) <= 1024 else os.write(self._fd, b"".join(chunks))
            if written != size:
                raise SpoolFullError(f"short write to the spool ({written} of {size} bytes): the disk is full")
            os.fdatasync(self._fd)
        except OSError:
            self._roll_back()
            raise
        self._offset = offset
        return ends

    def _roll_back(self) -> None:
        """Cut the segment back to its last good record (truncating frees space, so it works on a
        full disk); if even that fails, leave the segment and append to a new one from now on."""
        try:
            os.ftruncate(self._fd, self._offset)
            os.fdatasync(self._fd)
        except OSError:
            log.exception("cannot cut a failed append off spool segment %d; continuing in a new segment",
                          self._segment)
            os.close(self._fd)
            self._fd = -1   # the next append opens segment + 1

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
