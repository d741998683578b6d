"""Every decision on record: who asked, what was answered and why, with no number in clear.

One JSON line per decision in ``audit.jsonl`` in the state folder. Phone numbers and accounts
are written as HMAC-SHA256 under a key made on first start (``audit.key``, mode 0600): the
deployment can still tell whether two lines name the same number (and, holding the key, check a
given number), but a leaked log names nobody.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from pathlib import Path
from typing import IO

import msgspec

_encoder = msgspec.json.Encoder()


def load_or_create_key(path: Path) -> bytes:
    """The deployment's audit key; created 0600 (readable by the service's user only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise ValueError(f"{path}: audit key shorter than 32 bytes") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


class AuditLog:
    def __init__(self, folder: Path) -> None:
        self._key = load_or_create_key(folder / "audit.key")
        self._handle: IO[bytes] = open(folder / "audit.jsonl", "ab")  # noqa: SIM115 (held open)

    def pseudonym(self, value: str | None) -> str | None:
        """A keyed hash of a number or account (first 128 bits, hex)."""
        if value is None:
            return None
        return hmac.digest(self._key, value.encode(), "sha256").hex()[:32]

    def record(self, entry: dict[str, object]) -> None:
        """One line; the caller passes only pseudonyms for numbers and accounts."""
        entry["at"] = time.time()
        self._handle.write(_encoder.encode(entry) + b"\n")

    def flush(self) -> None:
        # Once per request: the lines reach the OS (they survive the process being killed).
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
