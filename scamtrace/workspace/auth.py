"""Who may do what: passwords, sessions, CSRF tokens, roles and per-case access.

- Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
  recommended profile): memory-hard, so a stolen database is slow to crack. A login for an
  unknown user still verifies a hash, so the answer's time does not tell which names exist.
- A session is 256 random bits in an HttpOnly, SameSite=Strict cookie; the database keeps only
  its SHA-256. It ends after ``idle_s`` without a request and ``absolute_s`` after login,
  whichever comes first, and at logout.
- Every POST carries the session's synchronizer token (a form field or the ``X-CSRF-Token``
  header), compared in constant time. The login form, before any session, uses a
  double-submit token: a random cookie echoed in the form.
- Roles: an investigator works a case (verdicts, notes, assignments, hand-over, the export
  token); a reviewer checks that work (verdicts, notes, assignments, the audit log); a viewer
  reads. Each user opens only the cases granted (``*``: all).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from scamtrace.workspace.store import Store, User, iso, now, parse_iso

SESSION_COOKIE = "scamtrace_session"
LOGIN_COOKIE = "scamtrace_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

PERMISSIONS: dict[str, frozenset[str]] = {
    "investigator": frozenset({"view", "decide", "handover", "export_token"}),
    "reviewer": frozenset({"view", "decide", "audit"}),
    "viewer": frozenset({"view"}),
}
"""What each role may do: ``decide`` covers verdicts, notes and assignments."""


def may(user: User, permission: str) -> bool:
    return permission in PERMISSIONS.get(user.role, frozenset())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an absent or empty token never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class SessionInfo:
    user: User
    csrf: str
    token: str


class Auth:
    """Passwords and sessions over the workspace :class:`Store`."""

    def __init__(self, store: Store, *, idle_s: int, absolute_s: int,
                 clock: Callable[[], dt.datetime] = now) -> None:  # fmt: skip
        self.store = store
        self.idle = dt.timedelta(seconds=idle_s)
        self.absolute = dt.timedelta(seconds=absolute_s)
        self.clock = clock
        self.hasher = PasswordHasher()  # argon2id
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def check_password(self, name: str, password: str) -> bool:
        stored = self.store.password_hash(name)
        try:
            self.hasher.verify(stored or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if self.hasher.check_needs_rehash(stored):
            self.store.set_password(name, self.hasher.hash(password))
        return True

    def login(self, name: str, password: str) -> SessionInfo | None:
        """A new session for a right name and password, else None."""
        if not self.check_password(name, password):
            return None
        user = self.store.user(name)
        if user is None:
            return None
        token, csrf = new_token(), new_token()
        self.store.add_session(token, name, csrf, self.clock())
        return SessionInfo(user, csrf, token)

    def session(self, token: str | None) -> SessionInfo | None:
        """The live session of ``token`` (its idle clock restarted), None when there is none or
        it has expired (an expired one is deleted)."""
        if not token:
            return None
        row = self.store.session(token)
        if row is None:
            return None
        at = self.clock()
        created, seen = parse_iso(row["created_at"]), parse_iso(row["last_seen"])
        if created is None or seen is None or at - seen > self.idle or at - created > self.absolute:
            self.store.drop_session(token)
            return None
        user = self.store.user(str(row["user_name"]))
        if user is None:  # disabled since
            self.store.drop_session(token)
            return None
        # the idle clock restarts at most once a minute: a page's many requests write once
        if at - seen > dt.timedelta(seconds=min(60, self.idle.total_seconds() / 4)):
            self.store.touch_session(token, at)
        return SessionInfo(user, str(row["csrf"]), token)

    def logout(self, token: str | None) -> None:
        if token:
            self.store.drop_session(token)

    def sweep(self) -> None:
        """Delete every expired session."""
        at = self.clock()
        self.store.drop_sessions_before(at - self.idle, at - self.absolute)


__all__ = ["Auth", "SessionInfo", "iso", "may", "new_token", "same_token"]
