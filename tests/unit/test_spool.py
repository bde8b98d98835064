"""The spool: what is appended and synced comes back after a crash; a torn tail is cut, not replayed."""

from __future__ import annotations

from pathlib import Path

from tracehouse.receiver.spool import Position, Spool


def _recovered(directory: Path, segment_bytes: int = 1 << 20) -> tuple[Spool, list[bytes]]:
    spool = Spool(directory, segment_bytes=segment_bytes)
    payloads = [payload for _, payload in spool.recover()]
    return spool, payloads


def test_appended_records_come_back_in_order(tmp_path: Path) -> None:
    spool, before = _recovered(tmp_path)
    assert before == []
    spool.append([b"one", b"two"])
    spool.append([b"three"])
    spool.close()
    _, after = _recovered(tmp_path)
    assert after == [b"one", b"two", b"three"]


def test_applied_records_are_not_replayed(tmp_path: Path) -> None:
    spool, _ = _recovered(tmp_path)
    ends = spool.append([b"a", b"b", b"c"])
    spool.mark_applied(ends[1])
    spool.close()
    _, after = _recovered(tmp_path)
    assert after == [b"c"]


def test_a_torn_tail_is_cut_off_and_appending_continues(tmp_path: Path) -> None:
    spool, _ = _recovered(tmp_path)
    spool.append([b"kept"])
    spool.close()
    segment = next(tmp_path.glob("*.log"))
    good_size = segment.stat().st_size
    with segment.open("ab") as f:  # a crash in the middle of writing a record
        f.write(b"\x10\x00\x00\x00\xde\xad")
    spool, after = _recovered(tmp_path)
    assert after == [b"kept"]
    assert segment.stat().st_size == good_size
    spool.append([b"next"])
    spool.close()
    assert _recovered(tmp_path)[1] == [b"kept", b"next"]


def test_a_corrupted_record_is_not_replayed(tmp_path: Path) -> None:
    spool, _ = _recovered(tmp_path)
    spool.append([b"first", b"second"])
    spool.close()
    segment = next(tmp_path.glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last payload: its checksum no longer matches
    segment.write_bytes(bytes(data))
    assert _recovered(tmp_path)[1] == [b"first"]


def test_segments_rotate_and_applied_ones_are_deleted(tmp_path: Path) -> None:
    spool, _ = _recovered(tmp_path, segment_bytes=64)
    ends: list[Position] = []
    for i in range(10):
        ends += spool.append([bytes([i]) * 40])
    assert len(list(tmp_path.glob("*.log"))) > 3
    spool.mark_applied(ends[-1])
    assert len(list(tmp_path.glob("*.log"))) == 1
    spool.close()
    assert _recovered(tmp_path, segment_bytes=64)[1] == []


def test_records_are_read_back_by_position_across_segments(tmp_path: Path) -> None:
    spool, _ = _recovered(tmp_path, segment_bytes=64)
    payloads = [bytes([i]) * (30 + i) for i in range(6)]
    ends: list[Position] = []
    for payload in payloads:
        ends += spool.append([payload])
    assert len({end.segment for end in ends}) > 2
    records = [(end, len(p)) for end, p in zip(ends, payloads, strict=True)]
    assert spool.read(records) == payloads
    assert spool.read(records[2:4]) == payloads[2:4]
    spool.close()
