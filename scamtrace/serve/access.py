"""Who may ask what: one bearer token per institution, each with its scopes.

The tokens file (YAML or JSON) holds only the SHA-256 of each token, never the token, so a copy
of the file does not let anyone in::

    institutions:
      - name: carrier-a
        token_sha256: 5e88...   # printf %s "$TOKEN" | sha256sum
        scopes: [calls:score]
      - name: bank-b
        token_sha256: 9f86...
        scopes: [transfers:score, events:write]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import yaml

from scamtrace.core.errors import ScamtraceError

Scope = Literal["calls:score", "transfers:score", "events:write", "entities:read"]
ALL_SCOPES: frozenset[str] = frozenset(
    {"calls:score", "transfers:score", "events:write", "entities:read"}
)
#: The caller's name when the service runs without a tokens file (loopback only).
LOCAL = "local"


class _Institution(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    token_sha256: str
    scopes: list[Scope]


class _TokensFile(msgspec.Struct, forbid_unknown_fields=True):
    institutions: list[_Institution]


@dataclass(frozen=True)
class Grant:
    institution: str
    scopes: frozenset[str]


class Refused(Exception):
    """401 (who are you?) or 403 (not allowed to): ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Access:
    """Checks an ``Authorization`` header against the tokens file (or lets all in, locally)."""

    def __init__(self, grants: dict[str, Grant] | None) -> None:
        # None: no tokens file, open access (the service then listens on loopback only).
        self._grants = grants

    @property
    def open(self) -> bool:
        return self._grants is None

    @classmethod
    def from_file(cls, path: Path | None) -> Access:
        if path is None:
            return cls(None)
        try:
            raw = yaml.safe_load(path.read_text())
            parsed = msgspec.convert(raw, type=_TokensFile)
        except (OSError, yaml.YAMLError, msgspec.ValidationError) as exc:
            raise ScamtraceError(f"tokens file {path}: {exc}") from exc
        grants: dict[str, Grant] = {}
        for inst in parsed.institutions:
            digest = inst.token_sha256.strip().lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ScamtraceError(
                    f"tokens file {path}: {inst.name}: token_sha256 is not a SHA-256 hex digest"
                )
            if digest in grants:
                raise ScamtraceError(f"tokens file {path}: {inst.name}: token used twice")
            grants[digest] = Grant(inst.name, frozenset(inst.scopes))
        return cls(grants)

    def check(self, authorization: bytes | None, scope: str) -> str:
        """The institution asking, or :class:`Refused`."""
        if self._grants is None:
            return LOCAL
        if not authorization or not authorization[:7].lower() == b"bearer ":
            raise Refused(401, "missing bearer token (Authorization: Bearer TOKEN)")
        token = authorization[7:].strip()
        # A lookup by the hash: the hash of a random 256-bit token leaks nothing by its timing.
        grant = self._grants.get(hashlib.sha256(token).hexdigest())
        if grant is None:
            raise Refused(401, "unknown token")
        if scope not in grant.scopes:
            raise Refused(403, f"{grant.institution} lacks the scope {scope}")
        return grant.institution
