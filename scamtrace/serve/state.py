"""Compact state of the scoring service: what it keeps per number, line and account.

Honest traffic is most of what streams in, and a carrier has tens of millions of subscribers,
so nothing here is a Python object per honest number: who is a subscriber at home, who called
whom and who paid whom are bits of fixed-size sets (:class:`BitSet`), and how many first-time
payers an account had this week a fixed-size counter table (:class:`DayCounts`). Only entities
that behave suspiciously (a local-looking number from abroad, a SIP line, a callee of a
suspicious line) get a :class:`Window` of their recent calls, capped in length, so every update
is O(1).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np

K = TypeVar("K")
V = TypeVar("V")
_MASK = (1 << 64) - 1


def mix(key: int) -> int:
    """A 64-bit hash of a non-negative integer (splitmix64's finaliser): stable across runs,
    unlike Python's own hash of text, so decisions replay identically."""
    z = (key + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def text_key(text: str) -> int:
    """A stable 64-bit key of a text (an account number)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def pair_key(a: int, b: int) -> int:
    """A stable key of an ordered pair of keys (caller and callee, payer and payee)."""
    return mix(a ^ mix(b))


def epoch(time: datetime) -> float:
    """Seconds since the epoch; a naive time is UTC (the contract's rule)."""
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return time.timestamp()


class BitSet:
    """A set of integer keys as a Bloom filter of two hashes over a fixed number of bits.

    A member is always found; a non-member is found with a small probability (the service
    then takes a stranger for someone known: a missed warning, never a false alarm). One bit
    per key and hash: 2^26 bits are 8 MiB."""

    def __init__(self, bits: int) -> None:
        self.size = max(64, bits)
        self.bits = np.zeros((self.size + 7) // 8, dtype=np.uint8)
        self.added = 0

    def _slots(self, key: int) -> tuple[int, int]:
        h = mix(key)
        return h % self.size, (h >> 32) % self.size

    def add(self, key: int) -> None:
        for slot in self._slots(key):
            self.bits[slot >> 3] |= np.uint8(1 << (slot & 7))
        self.added += 1

    def __contains__(self, key: int) -> bool:
        return all(self.bits[slot >> 3] & (1 << (slot & 7)) for slot in self._slots(key))

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes)


class DayCounts:
    """Per-key counts over the last ``days`` days, as a count-min table of two rows.

    Counts can only be over-estimated (two keys sharing both cells); with a table wider than
    the keys counted in a week that is rare. A day's column is cleared when the day comes round
    again, once per day, so updates are O(1)."""

    def __init__(self, width: int, days: int) -> None:
        self.width = max(64, width)
        self.days = max(1, days)
        self.counts = np.zeros((2, self.days, self.width), dtype=np.uint16)
        self.day_of_column = np.full(self.days, -1, dtype=np.int64)

    def _column(self, day: int) -> int:
        column = day % self.days
        if self.day_of_column[column] != day:
            self.counts[:, column, :] = 0
            self.day_of_column[column] = day
        return column

    def add(self, key: int, day: int) -> None:
        column = self._column(day)
        h = mix(key)
        for row, cell in enumerate((h % self.width, (h >> 32) % self.width)):
            if self.counts[row, column, cell] < np.iinfo(np.uint16).max:
                self.counts[row, column, cell] += 1

    def total(self, key: int, day: int) -> int:
        """Count of ``key`` over the ``days`` days ending with ``day``."""
        h = mix(key)
        cells = (h % self.width, (h >> 32) % self.width)
        live = (self.day_of_column > day - self.days) & (self.day_of_column <= day)
        return int(min(int(self.counts[row, live, cell].sum()) for row, cell in enumerate(cells)))

    @property
    def nbytes(self) -> int:
        return int(self.counts.nbytes)


class TypicalAmounts:
    """Each payer's usual payment (the geometric mean of its last twenty or so), in a table
    of fixed width indexed by a hash of the account: two payers sharing a cell blur each
    other's usual amount, never anyone else's. Four bytes and one counter per cell."""

    def __init__(self, width: int, memory: int = 20) -> None:
        self.width = max(64, width)
        self.memory = memory
        self.log_mean = np.zeros(self.width, dtype=np.float32)
        self.count = np.zeros(self.width, dtype=np.uint8)

    def add(self, key: int, amount: float) -> None:
        cell = mix(key) % self.width
        n = min(int(self.count[cell]), self.memory - 1)
        self.log_mean[cell] = (self.log_mean[cell] * n + math.log(amount)) / (n + 1)
        if self.count[cell] < 255:
            self.count[cell] += 1

    def usual(self, key: int) -> tuple[float, int]:
        """The usual amount and how many payments it rests on (0: none seen)."""
        cell = mix(key) % self.width
        return math.exp(float(self.log_mean[cell])), int(self.count[cell])

    @property
    def nbytes(self) -> int:
        return int(self.log_mean.nbytes + self.count.nbytes)


@dataclass(slots=True)
class Call:
    """One call in a window: when, to whom, presenting what, and how it went."""

    time: float
    callee: int
    presented: int
    answered: bool
    talk_s: int
    stranger: bool


@dataclass(slots=True)
class Window:
    """The recent calls of one line or presented number (at most ``cap``), and since when it
    is seen. Reading it is O(cap): a fixed bound, not the line's history."""

    cap: int
    first_seen: float
    calls: deque[Call] = field(default_factory=deque)
    total_calls: int = 0
    #: The strongest verdict the behaviour earned within the window, when, and why: a dialler
    #: does not become honest when it pauses for an hour.
    peak: float = 0.0
    peak_reason: str = ""
    peak_time: float = 0.0
    #: Calls made to the line, and how many it answered (a SIM box answers none).
    received: int = 0
    received_answered: int = 0

    def add(self, call: Call) -> None:
        self.calls.append(call)
        self.total_calls += 1
        if len(self.calls) > self.cap:
            self.calls.popleft()

    def recent(self, now: float, span_s: float) -> list[Call]:
        return [c for c in self.calls if now - span_s <= c.time <= now]


@dataclass(frozen=True, slots=True)
class WindowFacts:
    """What a window says of a line's recent calls."""

    calls: int
    callees: int
    strangers: int
    #: Caller IDs presented, all of them and those local to the people called.
    presented: int
    presented_local: int
    #: Ranges of 100 numbers the IDs fall in: a company's direct numbers share a few.
    presented_ranges: int
    answered: int
    answer_rate: float
    median_talk_s: float

    @classmethod
    def of(cls, calls: list[Call], local_prefix: str | None, range_size: int = 100) -> WindowFacts:
        n = len(calls)
        answered = [c.talk_s for c in calls if c.answered]
        talks = sorted(answered)
        median = float(talks[len(talks) // 2]) if talks else 0.0
        # IDs local to the people called: a number of the callee's own country
        local = {c.presented for c in calls if local_prefix is None
                 or (str(c.presented).startswith(local_prefix)
                     and str(c.callee).startswith(local_prefix))}  # fmt: skip
        local.discard(0)
        every = {c.presented for c in calls}
        every.discard(0)
        return cls(
            calls=n,
            callees=len({c.callee for c in calls}),
            strangers=len({c.callee for c in calls if c.stranger}),
            presented=len(every),
            presented_local=len(local),
            presented_ranges=len({number // range_size for number in every}),
            answered=len(answered),
            answer_rate=len(answered) / n if n else 0.0,
            median_talk_s=median,
        )


@dataclass(slots=True)
class Flag:
    """An entity flagged by the findings or by complaints."""

    score: float
    reason: str
    network_id: str | None = None
    center_id: str | None = None
    complaints: int = 0


@dataclass(slots=True)
class Contact:
    """The last suspicious call a subscriber answered."""

    time: float
    score: float
    reason: str
    network_id: str | None


@dataclass(frozen=True, slots=True)
class Account:
    """A bank account's KYC facts (``accounts`` of a case)."""

    opened_day: int | None
    personal: bool
    holder_phone: int | None


def day_of(time_s: float) -> int:
    return int(time_s // 86400)


def date_day(text: object) -> int | None:
    """Days since the epoch of a date (``opened_on``), or None."""
    if text is None or text == "":
        return None
    try:
        value = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return day_of(epoch(value)) if isinstance(value, datetime) else None


def bounded_put(table: dict[K, V], key: K, value: V, cap: int) -> None:
    """Put ``key`` last in ``table``, dropping the oldest entries beyond ``cap``."""
    table.pop(key, None)
    table[key] = value
    while len(table) > cap:
        del table[next(iter(table))]
