"""The workspace's own state: users, access, sessions, verdicts, notes, assignments, audit.

SQLAlchemy Core over SQLite by default (``sqlite:///<state>/workspace.db``) or PostgreSQL given
a URL (``postgresql+psycopg://...``); the tables are created on start. Findings and case tables
are never copied here: they stay in the folders :class:`~scamtrace.workspace.data.CaseData`
reads. Every time is stored as UTC text (ISO 8601), so both databases sort and compare them
the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from scamtrace.core.verdicts import Verdict, VerdictKind
from scamtrace.workspace.data import WorkspaceError

ROLES = ("investigator", "reviewer", "viewer")
ALL_CASES = "*"
"""A ``case_access`` row with this case id gives access to every case."""

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)  # fmt: skip
case_access = sa.Table(
    "case_access", metadata,
    sa.Column("user_name", sa.String(200), sa.ForeignKey("users.name"), primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
)  # fmt: skip
sessions = sa.Table(
    "sessions", metadata,
    # the SHA-256 of the token the browser holds: a copy of the database opens no session
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(200), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("csrf", sa.String(100), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
)  # fmt: skip
verdicts = sa.Table(
    "verdicts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("evidence_last", sa.String(40), nullable=True),
    sa.Column("evidence_count", sa.Integer, nullable=False),
    sa.Column("decided_at", sa.String(40), nullable=False),
    sa.Column("analyst", sa.String(200), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)  # fmt: skip
notes = sa.Table(
    "notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)  # fmt: skip
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("assignee", sa.String(200), nullable=False),
    sa.Column("assigned_by", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)  # fmt: skip
audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("user_name", sa.String(200), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("case_id", sa.String(200), nullable=False, default=""),
    sa.Column("target", sa.Text, nullable=False, default=""),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)  # fmt: skip
export_tokens = sa.Table(
    "export_tokens", metadata,
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)  # fmt: skip


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """UTC, to the microsecond, with ``Z``: sorts as text in both databases."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def token_hash(token: str) -> str:
    """What is stored of a session or export token: its SHA-256 (the token is 256 random
    bits, so no slow hash is needed to resist guessing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def default_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'workspace.db'}"


@dataclass(frozen=True)
class User:
    name: str
    role: str
    cases: frozenset[str]
    """Case ids the user may open; :data:`ALL_CASES` for every case."""

    def may_open(self, case_id: str) -> bool:
        return ALL_CASES in self.cases or case_id in self.cases


class Store:
    """The workspace database: one engine, short transactions, safe from several threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise WorkspaceError(f"--db {url!r}: cannot be used ({exc})") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            metadata.create_all(self.engine)
        except sa.exc.OperationalError as exc:
            raise WorkspaceError(f"--db {url!r}: cannot be opened ({exc.orig})") from None

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, password_hash: str, role: str, cases: Iterable[str]) -> None:
        if role not in ROLES:
            raise WorkspaceError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if not name.strip():
            raise WorkspaceError("a user needs a name")
        with self.engine.begin() as db:
            if db.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise WorkspaceError(f"user {name!r} exists")
            db.execute(users.insert().values(name=name, password_hash=password_hash, role=role,
                                             created_at=iso(now()), disabled=False))  # fmt: skip
            for case_id in dict.fromkeys(cases):
                db.execute(case_access.insert().values(user_name=name, case_id=case_id))

    def set_password(self, name: str, password_hash: str) -> None:
        with self.engine.begin() as db:
            done = db.execute(users.update().where(users.c.name == name)
                              .values(password_hash=password_hash))  # fmt: skip
            if not done.rowcount:
                raise WorkspaceError(f"no user {name!r}")
            db.execute(sessions.delete().where(sessions.c.user_name == name))

    def grant(self, name: str, cases: Iterable[str]) -> None:
        with self.engine.begin() as db:
            held = {r[0] for r in db.execute(
                sa.select(case_access.c.case_id).where(case_access.c.user_name == name))}
            for case_id in dict.fromkeys(cases):
                if case_id not in held:
                    db.execute(case_access.insert().values(user_name=name, case_id=case_id))

    def user_count(self) -> int:
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an enabled user, None when there is no such user."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(users.c.password_hash).where(
                users.c.name == name, users.c.disabled.is_(False))).first()  # fmt: skip
        return None if row is None else str(row[0])

    def user(self, name: str) -> User | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(users.c.role).where(
                users.c.name == name, users.c.disabled.is_(False))).first()  # fmt: skip
            if row is None:
                return None
            cases = frozenset(r[0] for r in db.execute(
                sa.select(case_access.c.case_id).where(case_access.c.user_name == name)))
        return User(name, str(row[0]), cases)

    def user_names(self) -> list[str]:
        with self.engine.connect() as db:
            return [str(r[0]) for r in db.execute(
                sa.select(users.c.name).where(users.c.disabled.is_(False)).order_by(users.c.name))]

    # ------------------------------------------------------------------ sessions
    def add_session(self, token: str, name: str, csrf: str, at: dt.datetime) -> None:
        stamp = iso(at)
        with self.engine.begin() as db:
            db.execute(sessions.insert().values(token_hash=token_hash(token), user_name=name,
                                                csrf=csrf, created_at=stamp, last_seen=stamp))

    def session(self, token: str) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(sessions).where(
                sessions.c.token_hash == token_hash(token))).mappings().first()
        return None if row is None else dict(row)

    def touch_session(self, token: str, at: dt.datetime) -> None:
        with self.engine.begin() as db:
            db.execute(sessions.update().where(sessions.c.token_hash == token_hash(token))
                       .values(last_seen=iso(at)))  # fmt: skip

    def drop_session(self, token: str) -> None:
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.token_hash == token_hash(token)))

    def drop_sessions_before(self, idle_since: dt.datetime, created_since: dt.datetime) -> None:
        """Forget sessions idle since ``idle_since`` or made before ``created_since``."""
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sa.or_(
                sessions.c.last_seen < iso(idle_since),
                sessions.c.created_at < iso(created_since))))  # fmt: skip

    # ------------------------------------------------------------------ decisions
    def add_verdict(self, case_id: str, v: Verdict) -> None:
        with self.engine.begin() as db:
            db.execute(verdicts.insert().values(
                case_id=case_id, kind=v.kind, value=v.value, verdict=v.verdict,
                evidence_last=iso(v.evidence_last) if v.evidence_last else None,
                evidence_count=v.evidence_count, decided_at=iso(v.decided_at),
                analyst=v.analyst, note=v.note))  # fmt: skip

    def verdicts(self, case_id: str, kind: str | None = None,
                 value: str | None = None) -> list[Verdict]:  # fmt: skip
        """Every verdict of a case (or of one entity), oldest first."""
        q = sa.select(verdicts).where(verdicts.c.case_id == case_id)
        if kind is not None and value is not None:
            q = q.where(verdicts.c.kind == kind, verdicts.c.value == value)
        with self.engine.connect() as db:
            rows = db.execute(q.order_by(verdicts.c.decided_at, verdicts.c.id)).mappings().all()
        return [_verdict(r) for r in rows]

    def latest_verdicts(
        self, case_id: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Verdict]:
        """The verdict in force on each of ``keys`` (one page of a table) that has one."""
        if not keys:
            return {}
        values = sorted({v for _, v in keys})
        with self.engine.connect() as db:
            rows = db.execute(sa.select(verdicts).where(
                verdicts.c.case_id == case_id, verdicts.c.value.in_(values))
                .order_by(verdicts.c.decided_at, verdicts.c.id)).mappings().all()  # fmt: skip
        wanted = set(keys)
        return {(v.kind, v.value): v for v in map(_verdict, rows) if (v.kind, v.value) in wanted}

    def add_note(self, case_id: str, kind: str, value: str, author: str, text: str) -> None:
        with self.engine.begin() as db:
            db.execute(notes.insert().values(case_id=case_id, kind=kind, value=value,
                                             author=author, at=iso(now()), text=text))

    def notes(self, case_id: str, kind: str, value: str) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(sa.select(notes).where(
                notes.c.case_id == case_id, notes.c.kind == kind, notes.c.value == value)
                .order_by(notes.c.at, notes.c.id)).mappings()]  # fmt: skip

    def assign(self, case_id: str, kind: str, value: str, assignee: str, by: str) -> None:
        with self.engine.begin() as db:
            db.execute(assignments.insert().values(case_id=case_id, kind=kind, value=value,
                                                   assignee=assignee, assigned_by=by,
                                                   at=iso(now())))  # fmt: skip

    def assignees(
        self, case_id: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """Who each of ``keys`` is assigned to now (the latest assignment; "" unassigned)."""
        if not keys:
            return {}
        values = sorted({v for _, v in keys})
        with self.engine.connect() as db:
            rows = db.execute(sa.select(assignments.c.kind, assignments.c.value,
                                        assignments.c.assignee).where(
                assignments.c.case_id == case_id, assignments.c.value.in_(values))
                .order_by(assignments.c.at, assignments.c.id)).all()  # fmt: skip
        wanted = set(keys)
        return {(k, v): a for k, v, a in rows if (k, v) in wanted}

    def assignees_all(self, case_id: str) -> dict[tuple[str, str], str]:
        """Who each assigned entity of the case is assigned to now ("" once unassigned)."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(assignments.c.kind, assignments.c.value,
                                        assignments.c.assignee)
                              .where(assignments.c.case_id == case_id)
                              .order_by(assignments.c.at, assignments.c.id)).all()  # fmt: skip
        return {(k, v): a for k, v, a in rows}

    # ------------------------------------------------------------------ export tokens
    def set_export_token(self, case_id: str, token: str, by: str) -> None:
        """The case's one read-only verdicts export token (a new one revokes the old)."""
        with self.engine.begin() as db:
            db.execute(export_tokens.delete().where(export_tokens.c.case_id == case_id))
            db.execute(export_tokens.insert().values(case_id=case_id, token_hash=token_hash(token),
                                                     created_by=by, created_at=iso(now())))

    def export_token(self, case_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(export_tokens).where(
                export_tokens.c.case_id == case_id)).mappings().first()
        return None if row is None else dict(row)

    # ------------------------------------------------------------------ audit
    def audit(self, user: str, action: str, case_id: str = "", target: str = "",
              detail: str = "") -> None:  # fmt: skip
        with self.engine.begin() as db:
            db.execute(audit.insert().values(at=iso(now()), user_name=user, action=action,
                                             case_id=case_id, target=target, detail=detail))

    def audit_rows(
        self, case_id: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        q = sa.select(audit)
        count = sa.select(sa.func.count()).select_from(audit)
        if case_id is not None:
            q, count = q.where(audit.c.case_id == case_id), count.where(audit.c.case_id == case_id)
        with self.engine.connect() as db:
            total = int(db.execute(count).scalar_one())
            rows = [dict(r) for r in db.execute(
                q.order_by(audit.c.id.desc()).limit(limit).offset(offset)).mappings()]
        return rows, total


def _verdict(row: Any) -> Verdict:
    kind: VerdictKind = "confirmed" if row["verdict"] == "confirmed" else "rejected"
    decided = parse_iso(row["decided_at"])
    assert decided is not None
    return Verdict(row["kind"], row["value"], kind, parse_iso(row["evidence_last"]),
                   int(row["evidence_count"]), decided, row["analyst"], row["note"] or "")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: readers (page views) never wait for the writer (a verdict); a verdict is on disk
    # when the request that gave it returns.
    cur = connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
