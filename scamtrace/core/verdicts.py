"""Analysts' verdicts on entities: the one format the workspace writes and ``detect`` reads.

A verdict is ``confirmed`` or ``rejected``, on one entity (kind and value as in
``entities.csv``), with the evidence the analyst saw: how many records and the newest one's time.
``detect --verdicts`` reads them as labels: a rejected entity is not flagged again unless new
evidence (a record after ``evidence_last``) turns up; a confirmed one is flagged and seeds the
rest. The latest verdict on an entity wins. The table is ``verdicts.csv`` with the columns of
:data:`scamtrace.core.contract.VERDICTS_TABLE`; a workspace serves the same CSV at a URL.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scamtrace.core.contract import VERDICTS_TABLE
from scamtrace.core.errors import ScamtraceError

VerdictKind = Literal["confirmed", "rejected"]
VERDICT_KINDS: tuple[VerdictKind, ...] = ("confirmed", "rejected")
COLUMNS = tuple(VERDICTS_TABLE.column_names)


class VerdictsError(ScamtraceError):
    """A verdicts file or URL that cannot be read; the message names the source, line, field."""


@dataclass(frozen=True)
class Verdict:
    kind: str
    value: str
    verdict: VerdictKind
    evidence_last: dt.datetime | None
    evidence_count: int
    decided_at: dt.datetime
    analyst: str
    note: str = ""

    def as_row(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "value": self.value,
            "verdict": self.verdict,
            "evidence_last": _iso(self.evidence_last),
            "evidence_count": str(self.evidence_count),
            "decided_at": _iso(self.decided_at),
            "analyst": self.analyst,
            "note": self.note,
        }


def _iso(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _time(text: str, where: str, field: str, *, required: bool) -> dt.datetime | None:
    text = text.strip()
    if not text:
        if required:
            raise VerdictsError(f"{where}, field {field}: a time is required")
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise VerdictsError(f"{where}, field {field}: {text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def parse_verdicts(text: str, source: str) -> list[Verdict]:
    """Parse verdicts CSV text; ``source`` names it in errors. Raises :class:`VerdictsError`."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fields = reader.fieldnames or []
    except csv.Error as exc:
        raise VerdictsError(f"{source}, line 1: not CSV ({exc})") from None
    missing = [c for c in ("kind", "value", "verdict") if c not in fields]
    if missing:
        raise VerdictsError(f"{source}, line 1: missing column(s) {', '.join(missing)}")
    out: list[Verdict] = []
    line = reader.line_num + 1  # where the next record starts (a note may span lines)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise VerdictsError(f"{source}, line {line}: not CSV ({exc})") from None
        where = f"{source}, line {line}"
        line = reader.line_num + 1
        verdict = (row.get("verdict") or "").strip().lower()
        if verdict not in VERDICT_KINDS:
            raise VerdictsError(f"{where}, field verdict: {verdict!r} is not confirmed or rejected")
        kind, value = (row.get("kind") or "").strip(), (row.get("value") or "").strip()
        if not kind or not value:
            raise VerdictsError(f"{where}, field {'kind' if not kind else 'value'}: empty")
        count_text = (row.get("evidence_count") or "0").strip() or "0"
        try:
            count = int(count_text)
        except ValueError:
            raise VerdictsError(
                f"{where}, field evidence_count: {count_text!r} is not a number"
            ) from None
        if count < 0:
            raise VerdictsError(f"{where}, field evidence_count: {count} is below 0")
        decided = _time(row.get("decided_at") or "", where, "decided_at", required=False)
        out.append(Verdict(
            kind, value, "confirmed" if verdict == "confirmed" else "rejected",
            _time(row.get("evidence_last") or "", where, "evidence_last", required=False),
            count, decided or dt.datetime.fromtimestamp(0, dt.UTC),
            (row.get("analyst") or "").strip(), (row.get("note") or "").strip(),
        ))
    return out


def is_url(source: str | Path) -> bool:
    """Whether ``source`` is an ``http(s)://`` URL rather than a file."""
    return str(source).lower().startswith(("http://", "https://"))


def public_source(source: str | Path) -> str:
    """``source`` as it may be said in messages and summaries: a URL without its query string
    or credentials (a workspace's export URL carries ``?token=...``)."""
    if not is_url(source):
        return str(source)
    parts = urllib.parse.urlsplit(str(source))
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def read_verdicts(source: str | Path, *, timeout: float = 30.0) -> list[Verdict]:
    """Read verdicts from a CSV file or an ``http(s)://`` URL (a workspace's verdicts export).

    Errors name the source (a URL without its query string: the token stays out of logs), the
    line and the field. Raises :class:`VerdictsError`."""
    name = public_source(source)
    if is_url(source):
        try:
            with urllib.request.urlopen(str(source), timeout=timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            raise VerdictsError(f"{name}: the server answered {exc.code} {exc.reason}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise VerdictsError(f"{name}: cannot be read ({reason})") from None
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise VerdictsError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise VerdictsError(f"{name}, line {line}: not UTF-8 text") from None
    return parse_verdicts(text, name)


def latest(verdicts: Iterable[Verdict]) -> dict[tuple[str, str], Verdict]:
    """The verdict in force per (kind, value): the latest decided."""
    out: dict[tuple[str, str], Verdict] = {}
    for v in sorted(verdicts, key=lambda v: v.decided_at):
        out[(v.kind, v.value)] = v
    return out


def verdicts_csv(verdicts: Iterable[Verdict]) -> str:
    """The verdicts as CSV text with the contract's columns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for v in verdicts:
        writer.writerow(v.as_row())
    return buffer.getvalue()
