"""Disk full, on a real small filesystem (a tmpfs the test mounts): a failed spool append is never
acknowledged and leaves nothing that later records sit behind; the receivers answer retryable 503
while the disk is full and resume by themselves once space returns; after a restart every
acknowledged span is stored, exactly once."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest

from tracehouse.receiver import spool as spool_module
from tracehouse.receiver.spool import Spool, SpoolFullError

from .conftest import BackendFactory, wait_for
from .otlp_requests import fbaas_request, parse_status
from .small_fs import fill, small_filesystem


def _replayed(directory: Path) -> list[bytes]:
    spool = Spool(directory)
    payloads = [payload for _, payload in spool.recover()]
    spool.close()
    return payloads


def test_a_failed_append_is_rolled_back_and_recovery_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", 2) as fs:
        ballast = fill(fs, 1 * 2**20)       # half the disk is taken by something else
        spool = Spool(fs / "spool")
        list(spool.recover())
        acknowledged: list[bytes] = []
        refused = 0
        for i in range(200):   # 200 x ~16 KiB: far more than the 1 MiB left
            payload = bytes([i % 251]) * (16 * 2**10 + i)
            try:
                spool.append([payload])
                acknowledged.append(payload)
            except OSError as exc:
                assert exc.errno in (errno.ENOSPC, errno.EFBIG), exc
                refused += 1
        assert acknowledged and refused
        # Every refused append was cut off again: the spool ends at the last acknowledged record.
        segments = sorted((fs / "spool").glob("*.log"))
        assert sum(p.stat().st_size for p in segments) == sum(8 + len(p) for p in acknowledged)
        # Once space is freed the same spool appends again, by itself, right behind them.
        ballast.unlink()
        later = [b"after the disk was freed", b"and another"]
        spool.append(later[:1])
        spool.append(later[1:])
        spool.close()
        assert _replayed(fs / "spool") == acknowledged + later


def test_when_even_the_rollback_fails_appending_moves_to_a_new_segment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_filesystem(tmp_path / "fs", 1) as fs:
        spool = Spool(fs / "spool")
        list(spool.recover())
        spool.append([b"first"])
        ballast = fill(fs, 4096)

        def broken_truncate(fd: int, length: int) -> None:
            raise OSError(errno.EIO, "simulated I/O error while cutting the torn record")

        monkeypatch.setattr(spool_module.os, "ftruncate", broken_truncate)
        with pytest.raises(OSError):
            spool.append([b"x" * 64 * 2**10])     # torn: part of it is written, and stays
        monkeypatch.undo()
        ballast.unlink()
        spool.append([b"second"])                 # acknowledged, in a new segment
        spool.close()
        assert len(list((fs / "spool").glob("*.log"))) == 2
        # Recovery skips the torn record and keeps the record behind it.
        assert _replayed(fs / "spool") == [b"first", b"second"]


def test_appends_are_refused_before_the_reserve_is_touched(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", 8) as fs:
        spool = Spool(fs / "spool", reserve_bytes=4 * 2**20)
        list(spool.recover())
        spool.append([b"fits"])
        fill(fs, 4 * 2**20 + 1000)
        with pytest.raises(SpoolFullError, match="full"):
            spool.append([b"y" * 10_000])
        # Nothing was written: the reserve is untouched and the spool holds just the first record.
        spool.close()
        assert _replayed(fs / "spool") == [b"fits"]


def _send(backend_url: str, pad: int = 2000) -> tuple[int, list[str], str]:
    import httpx
    built = fbaas_request(10, pad_bytes=pad)
    try:
        response = httpx.post(backend_url, content=built.protobuf(),
                              headers={"Content-Type": "application/x-protobuf"}, timeout=30.0)
    except httpx.HTTPError as exc:
        return -1, built.span_ids, str(exc)
    detail = response.headers.get("retry-after", "")
    if response.status_code == 503:
        detail += " " + parse_status(response.content, "application/x-protobuf").message
    return response.status_code, built.span_ids, detail


def test_disk_full_then_freed_then_restart_loses_no_acknowledged_span(backend: BackendFactory,
                                                                        tmp_path: Path) -> None:
    """The whole disk fills (no reserve: the spool and the store both meet ENOSPC), is freed, and the
    backend is killed and restarted: every span it acknowledged is stored, exactly once."""
    with small_filesystem(tmp_path / "fs", 48) as fs:
        data = fs / "data"
        try:
            first = backend("--disk-reserve", "0", data_dir=data)
            acked: list[str] = []
            ballast = fill(fs, 3 * 2**20, "ballast")
            refusals: list[str] = []
            deadline = time.monotonic() + 60
            while len(refusals) < 10 and time.monotonic() < deadline:
                status, ids, detail = _send(first.traces_url)
                if status == 200:
                    acked += ids
                else:
                    assert status == 503, (status, detail)   # retryable, never 500 or a dropped connection
                    assert detail.startswith("1 "), detail  # Retry-After: 1
                    refusals.append(detail)
            assert len(refusals) >= 10, "the disk never filled up"
            assert any("no space" in r.lower() or "full" in r.lower() for r in refusals), refusals
            assert first.alive()
            # Space comes back: the backend accepts again by itself, without a restart.
            ballast.unlink()

            def accepted() -> bool:
                status, ids, _ = _send(first.traces_url)
                if status == 200:
                    acked.extend(ids)
                return status == 200

            wait_for(accepted, 30, "the backend to accept spans again once the disk was freed", interval=0.5)
            for _ in range(5):
                status, ids, detail = _send(first.traces_url)
                assert status == 200, detail
                acked += ids
            first.kill9()
            second = backend("--disk-reserve", "0", data_dir=data)
            second.wait_stored(acked, timeout=90)
            assert max(second.stored_span_ids().values()) == 1
            assert second.stop() == 0
        finally:
            backend.close()   # the processes hold files on the filesystem about to be unmounted


def test_sigterm_on_a_full_disk_exits_in_time_and_keeps_what_was_acknowledged(backend: BackendFactory,
                                                                              tmp_path: Path) -> None:
    """Commits fail while the disk is full; SIGTERM still ends the backend within its shutdown
    timeout, and what was acknowledged but not stored is stored by the next start."""
    with small_filesystem(tmp_path / "fs", 48) as fs:
        data = fs / "data"
        try:
            first = backend("--disk-reserve", "0", "--shutdown-timeout", "3", data_dir=data)
            acked: list[str] = []
            ballast = fill(fs, 2 * 2**20, "ballast")
            refused = 0
            deadline = time.monotonic() + 60
            while refused < 5 and time.monotonic() < deadline:
                status, ids, detail = _send(first.traces_url)
                if status == 200:
                    acked += ids
                else:
                    assert status == 503, (status, detail)
                    refused += 1
            assert refused >= 5 and acked
            stopped_at = time.monotonic()
            assert first.stop(timeout=60) == 0
            took = time.monotonic() - stopped_at
            assert took < 3 + 12, f"SIGTERM took {took:.1f} s on a full disk"
            ballast.unlink()
            second = backend("--disk-reserve", "0", data_dir=data)
            second.wait_stored(acked, timeout=90)
            assert second.stop() == 0
        finally:
            backend.close()
