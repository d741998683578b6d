"""The keys of an exchange and the keyed hashes made with them.

The *case key* is agreed by both agencies over a secure channel; every phone number that
crosses the border is ``HMAC-SHA256(case key, "phone:+E164")``. B's *line key* never leaves B:
it pseudonymises B's unflagged lines, so A (who holds the case key) cannot hash guesses of B's
account names.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scamtrace.share.exchange.messages import ExchangeError
from scamtrace.share.safeio import open_private, refuse_exposed_key

#: The environment variable that may hold the case key (hex), instead of a key file.
KEY_ENV = "SCAMTRACE_CASE_KEY"
#: The environment variable that may hold B's line key (hex), instead of a key file.
LINE_KEY_ENV = "SCAMTRACE_LINE_KEY"
KEY_BYTES = 32
#: Hex digits kept of each HMAC: 128 bits, no collision among billions of numbers.
HASH_HEX = 32


def new_key() -> str:
    """A fresh case key: 32 random bytes as hex, to agree over a secure channel."""
    return secrets.token_hex(KEY_BYTES)


def write_key(path: Path, *, overwrite: bool = False) -> str:
    """Write a new key file readable by its owner only; returns the key's id."""
    if path.exists() and not overwrite:
        raise ExchangeError(f"{path}: already exists; pass --overwrite to replace the key")
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_private(path), "w", encoding="ascii") as fh:
        fh.write(new_key() + "\n")
    return key_id(load_key(path))


def load_key(path: Path | None) -> bytes:
    """The case key from ``path`` (hex text), else from ``$SCAMTRACE_CASE_KEY``; a key file
    others than its owner may read is refused."""
    if path is not None:
        refuse_exposed_key(path, ExchangeError)
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ExchangeError(f"{path}: cannot read the case key: {exc}") from exc
        where = str(path)
    else:
        text, where = os.environ.get(KEY_ENV, "").strip(), f"${KEY_ENV}"
        if not text:
            raise ExchangeError(f"no case key: pass --key FILE or set {KEY_ENV} "
                                "(make one with `scamtrace share case-key`)")  # fmt: skip
    return _hex_key(text, f"{where}: line 1", "the case key")


def _hex_key(text: str, where: str, what: str) -> bytes:
    """``text`` read as a hex key of at least :data:`KEY_BYTES` bytes."""
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ExchangeError(f"{where}: {what} is not hex") from exc
    if len(key) < KEY_BYTES:
        raise ExchangeError(f"{where}: {what} has {len(key)} bytes; "
                            f"at least {KEY_BYTES} are needed")  # fmt: skip
    return key


def default_line_key_path() -> Path:
    """Where B keeps its line key unless told otherwise: ``$XDG_CONFIG_HOME/scamtrace/``
    (``~/.config/scamtrace/``) ``line.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scamtrace" / "line.key"


def load_line_key(path: Path | None = None) -> tuple[bytes, str]:
    """B's own secret for the pseudonyms of its unflagged lines, and where it came from.

    From ``path``, else ``$SCAMTRACE_LINE_KEY``, else :func:`default_line_key_path`; a key
    file that does not exist yet is made (32 random bytes, hex, mode 0600). It never leaves
    B: the case key cannot serve, since A holds it and could hash B's whole account space."""
    if path is None and os.environ.get(LINE_KEY_ENV, "").strip():
        key = _hex_key(os.environ[LINE_KEY_ENV].strip(), f"${LINE_KEY_ENV}", "the line key")
        return key, f"${LINE_KEY_ENV}"
    where = path if path is not None else default_line_key_path()
    if not where.exists():
        write_key(where)
        return load_key(where), f"{where} (new)"
    return load_key(where), str(where)


def line_pseudonym_key(line_key: bytes, case_key: bytes) -> bytes:
    """The key of one case's line pseudonyms: B's line key bound to the case (by the case
    key's id), so one line's pseudonyms in two cases cannot be linked."""
    return hmac.digest(line_key, b"scamtrace-line-pseudonyms:" + key_id(case_key).encode(),
                       "sha256")  # fmt: skip


def key_id(key: bytes) -> str:
    """A fingerprint of the key, so both sides can check they use the same one."""
    return hmac.new(key, b"scamtrace-case-key-id", hashlib.sha256).hexdigest()[:16]


def keyed(key: bytes, kind: str, values: Iterable[str]) -> dict[str, str]:
    """``{value: HMAC-SHA256(key, kind:value)}`` for each distinct value (truncated hex).

    ``kind`` separates domains: the same text as a phone and as a line gives unrelated hashes.
    """
    prefix = f"{kind}:".encode()
    return {v: hmac.digest(key, prefix + v.encode(), "sha256").hex()[:HASH_HEX]
            for v in set(values)}  # fmt: skip


def phone_hashes(key: bytes, digits: Iterable[int]) -> dict[int, str]:
    """Keyed hashes of E.164 numbers held as digits (the form ``enrich.case`` loads them in)."""
    texts = {int(d): f"+{int(d)}" for d in digits}
    hashed = keyed(key, "phone", texts.values())
    return {d: hashed[t] for d, t in texts.items()}


def check_key(raw: dict[str, Any], key: bytes, path: Path) -> None:
    """Refuse a request or answer made with another case key."""
    if raw.get("key_id") != key_id(key):
        raise ExchangeError(f"{path}: field key_id: made with another case key "
                            f"({raw.get('key_id')!r}, ours is {key_id(key)!r})")  # fmt: skip
