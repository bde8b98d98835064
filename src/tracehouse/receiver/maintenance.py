"""What `tracehouse store check` and `tracehouse store repair` do, on any store (the contract only).

- The spool's backlog: spans acknowledged before a crash and not yet in the store. `tracehouse up`
  replays it in the background; a command that opens the store directly replays it first
  (`replay_spool`), so it never shows a store that silently misses acknowledged spans.
- The dead-letter directory (receiver/deadletter.py): spans the store refused. `repair` tries each
  entry again (a store bug fixed, more memory given) and removes what is stored; with `discard`, it
  deletes what still fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracehouse.otlp.columns import decode_payloads
from tracehouse.receiver.deadletter import DIRECTORY_NAME, DeadLetter, DeadLetterEntry
from tracehouse.receiver.ingest import Ingest
from tracehouse.receiver.spool import Spool
from tracehouse.store import SpanWriter

SPOOL_DIRECTORY = "spool"
REPLAY_TIMEOUT_SECONDS = 600.0


@dataclass
class StoreHealth:
    data_dir: Path
    backlog_bytes: int                      # spooled, maybe not in the store
    dead_letter: list[DeadLetterEntry]      # set aside, after a repair: what still fails
    replayed_spans: int = 0                 # by this repair
    restored_spans: int = 0                 # dead-lettered spans this repair stored
    discarded: int = 0                      # dead-letter entries this repair deleted
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.backlog_bytes and not self.dead_letter


def dead_letter_of(data_dir: Path) -> DeadLetter:
    return DeadLetter(data_dir / DIRECTORY_NAME)


def backlog_bytes(data_dir: Path) -> int:
    """Bytes in the spool after the applied position (0 when there is no spool)."""
    if not (data_dir / SPOOL_DIRECTORY).is_dir():
        return 0
    return Spool(data_dir / SPOOL_DIRECTORY).backlog_bytes()


def inspect(data_dir: Path) -> StoreHealth:
    return StoreHealth(data_dir, backlog_bytes(data_dir), list(dead_letter_of(data_dir).entries()))


def replay_spool(store: SpanWriter, data_dir: Path) -> int:
    """Store the spool's backlog (no backend may be running on `data_dir`). Returns spans replayed."""
    ingest = Ingest(store, Spool(data_dir / SPOOL_DIRECTORY), max_pending_spans=262_144, max_batch_spans=0,
                    decode_workers=0, dead_letter=dead_letter_of(data_dir))
    ingest.recover()
    ingest.start()
    try:
        if not ingest.wait_stored(REPLAY_TIMEOUT_SECONDS):
            raise TimeoutError(f"the spool's backlog was not stored within {REPLAY_TIMEOUT_SECONDS:g} s")
    finally:
        ingest.close()
    return ingest.stats.replayed


def repair(store: SpanWriter, data_dir: Path, discard: bool = False) -> StoreHealth:
    """Replay the spool, then retry every dead-letter entry; see the module docstring."""
    health = inspect(data_dir)
    health.replayed_spans = replay_spool(store, data_dir)
    dead_letter = dead_letter_of(data_dir)
    failing: list[DeadLetterEntry] = []
    for entry in dead_letter.entries():
        try:
            if entry.kind == "spans":
                table = DeadLetter.read_spans(entry)
            else:
                table, _, _ = decode_payloads([entry.path.read_bytes()])
            if table is not None:
                store.write_spans(table)
                health.restored_spans += table.num_rows
            DeadLetter.remove(entry)
        except Exception as exc:
            health.errors.append(f"{entry.path.name}: {exc}")
            if discard:
                DeadLetter.remove(entry)
                health.discarded += 1
            else:
                failing.append(entry)
    health.dead_letter = failing
    health.backlog_bytes = backlog_bytes(data_dir)
    return health
