"""The service's durable event log: every acknowledged event, in the order it was applied.

SQLite in WAL mode with ``synchronous=FULL``: a batch of events is one transaction, committed
(and so on disk) before the engine applies it and before the client hears 2xx. On start the
service replays the log into a fresh engine, so a restart, even after ``kill -9``, ends in the
state it had. Each event has a key (its table and its id: ``call_id``, ``tx_id`` or
``report_id``) held unique, so an event sent twice (a client retrying after a lost answer) is
stored and applied once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from scamtrace.serve.model import (
    CarrierCallEvent,
    ComplaintEvent,
    Event,
    TransferEvent,
    VoipCallEvent,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL
)
"""

_encoder = msgspec.json.Encoder()
#: Keys asked about in one query (SQLite's default bound on parameters is 32,766).
_KEYS_PER_QUERY = 500
_decoder = msgspec.json.Decoder(Event)


def event_key(event: Event) -> str:
    """The event's table and its own id: the same record sent twice has the same key."""
    if isinstance(event, CarrierCallEvent | VoipCallEvent):
        return f"{type(event).__struct_config__.tag}\x1f{event.call_id}"
    if isinstance(event, TransferEvent):
        return f"transfers\x1f{event.tx_id}"
    if isinstance(event, ComplaintEvent):
        return f"reports\x1f{event.report_id}"
    raise TypeError(f"not an event: {type(event).__name__}")


class EventLog:
    """Append-only, deduplicated, durable log of events; one writer (the service's thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and committed here, explicitly.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the commit is on disk (WAL synced) before it returns, so an acknowledged event
        # survives the process being killed and the machine losing power.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def append(self, events: Sequence[Event]) -> list[Event]:
        """Store the events not stored before, durably; return those (in order) to apply."""
        fresh: dict[str, Event] = {}
        for event in events:
            fresh.setdefault(event_key(event), event)  # the first of a key sent twice at once
        rows = [(key, _encoder.encode(event)) for key, event in fresh.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Most bodies hold only new events: insert all, and only when some key was stored
            # already, undo and find which (asking first costs a third more per event).
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO events (event_key, body) VALUES (?, ?)", rows
            )
            if self._db.total_changes - before != len(rows):
                self._db.execute("ROLLBACK")
                self._db.execute("BEGIN IMMEDIATE")
                keys = list(fresh)
                for start in range(0, len(keys), _KEYS_PER_QUERY):
                    chunk = keys[start : start + _KEYS_PER_QUERY]
                    marks = ",".join("?" * len(chunk))
                    for (stored,) in self._db.execute(
                        f"SELECT event_key FROM events WHERE event_key IN ({marks})", chunk
                    ):
                        del fresh[stored]
                self._db.executemany(
                    "INSERT INTO events (event_key, body) VALUES (?, ?)",
                    [row for row in rows if row[0] in fresh],
                )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return list(fresh.values())

    def replay(self, chunk: int = 10_000) -> Iterator[list[Event]]:
        """Every stored event, oldest first, in lists of at most ``chunk``."""
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, chunk)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [_decoder.decode(body) for _, body in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self._db.close()
