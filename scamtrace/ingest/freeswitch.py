"""FreeSWITCH ``mod_json_cdr`` documents into ``voip_cdr``.

``mod_json_cdr`` writes one JSON object per call leg (``<uuid>.cdr.json``, ``a_<uuid>.cdr.json``
with ``prefix-a``); collectors gather them as JSON lines. A file here may hold one document
(pretty-printed or not), several (JSON lines: a line that is a whole JSON value is one
document; pretty-printed ones each start with ``{`` at the start of a line), or a JSON array
of them; a folder is read file by file
(``*.json``, ``*.jsonl``, ``*.ndjson``, optionally ``.gz``, sorted, hidden ones skipped).

Documents are numbered from 1 in each file, an array's items each counting as one; the number
is the ``line`` of whatever is set aside (in JSON lines without blank lines, the line number).
A document that is not valid JSON is set aside (field empty, reason ``not valid JSON: ...``)
and the others are still read; so is one nested deeper than :data:`MAX_DEPTH`, one holding
bytes that are not UTF-8 (``not UTF-8 text``: never read with U+FFFD in their place), and one
longer than :data:`~scamtrace.ingest.base.MAX_RECORD_BYTES` (read past, never held). Rows
are typed in batches of ``ctx.batch_rows`` documents (those set aside count), across the files
of a folder.

The mapping reads ``variables``, whose values ``encode-values`` (on by default) URL-encodes:
every value is decoded with :func:`urllib.parse.unquote` (``+`` stays a plus). The first
non-empty of:

- ``call_id``: ``uuid``, ``call_uuid``.
- ``start_time``: ``start_epoch`` (seconds, UTC), else ``start_stamp`` (local time without an
  offset: read in ``options["timezone"]``, IANA name or ``±HH:MM``, else as UTC).
- ``sip_account``: ``sip_auth_username``, ``user_name``, ``sip_from_user``.
- ``source_ip``: ``sip_received_ip``, ``sip_network_ip``. ``user_agent``: ``sip_user_agent``.
- ``from_number``: ``effective_caller_id_number``, ``sip_from_user``, ``caller_id_number``, the
  call flow's ``caller_profile.caller_id_number``.
- ``to_number``: ``sip_to_user``, ``destination_number``, the call flow's
  ``caller_profile.destination_number``.
- ``duration_s``: ``billsec``.
- ``sip_status``: ``sip_term_status``, else from ``hangup_cause``: NORMAL_CLEARING 200 when the
  call was answered (``billsec`` > 0 or an ``answer_epoch``), USER_BUSY 486, NO_ANSWER and
  NO_USER_RESPONSE 480, ORIGINATOR_CANCEL 487, CALL_REJECTED 603, UNALLOCATED_NUMBER 404, any
  other cause 500; empty when neither is logged.

The call flow is ``callflow`` (an object in older versions, where several profiles repeat the
key and the last, the original one, is what a JSON parser keeps; an array in newer ones, whose
last item is that same original profile).

A b-leg (``log-b-leg``; its caller profile names an ``originator``) is the switch's own call
onward, to a carrier, not a call a customer placed: it is set aside with that reason rather
than counted as a second call (its ``sip_network_ip`` would be the carrier's).
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import pyarrow as pa

from scamtrace.core import contract
from scamtrace.ingest import base
from scamtrace.ingest.asterisk import local_times, time_zone
from scamtrace.ingest.base import Batch, IngestError, ReadContext, Rejected, coerce, text_table

TABLE = "voip_cdr"
SUFFIXES = (".json", ".jsonl", ".ndjson")

#: FreeSWITCH hangup causes and the SIP response each stands for (NORMAL_CLEARING aside).
HANGUP_CAUSES: dict[str, int] = {
    "USER_BUSY": 486,
    "NO_ANSWER": 480,
    "NO_USER_RESPONSE": 480,
    "ORIGINATOR_CANCEL": 487,
    "CALL_REJECTED": 603,
    "UNALLOCATED_NUMBER": 404,
}
OTHER_CAUSE = 500


def _is_document_file(path: Path) -> bool:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(SUFFIXES)


def document_files(path: Path) -> list[Path]:
    """``path`` itself, or the JSON files under a folder (sorted, hidden ones skipped)."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and _is_document_file(p)
                  and not any(part.startswith(".")
                              for part in p.relative_to(path).parts))  # fmt: skip


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


#: How deep a document's objects and arrays may nest (mod_json_cdr's go 5 or 6 deep); past
#: it a document is set aside (before: a RecursionError ended the run).
MAX_DEPTH = 100
TOO_DEEP = f"JSON nested more than {MAX_DEPTH} deep"
NOT_UTF8 = "not UTF-8 text"

_UNREAD = object()
_DEEP = object()  # a JSON line too deep to read (json.loads ran out of stack)


def _lines(fh: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """The lines of a file (a UTF-8 byte-order mark dropped), None in place of one longer than
    ``limit`` bytes, which is read past and never held."""
    first = True
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if first:
            first = False
            while line.startswith(codecs.BOM_UTF8):
                line = line[3:]
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _load(text: str) -> tuple[Any, str | None]:
    """(value, None) for a JSON text, or (``_UNREAD``, why not)."""
    try:
        value = json.loads(text)
    except RecursionError:
        return _UNREAD, TOO_DEEP
    except ValueError as exc:
        # The message without its position ("Unterminated string starting at"), so that a
        # file of broken documents counts a few reasons, not one per document.
        reason = exc.msg.removesuffix(" at") if isinstance(exc, json.JSONDecodeError) \
            else str(exc)  # fmt: skip
        return _UNREAD, f"not valid JSON: {reason}"
    # Counting brackets is cheap and clears almost every document; the rest are walked.
    if text.count("{") + text.count("[") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        return _UNREAD, TOO_DEEP
    return value, None


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        inner = item.values() if isinstance(item, dict) else item
        stack += [(x, depth + 1) for x in inner if isinstance(x, dict | list)]
    return False


def _chunks(lines: Iterator[bytes | None], limit: int) -> Iterator[tuple[str | None, Any]]:
    """The text of each document (UTF-8 read with surrogate escapes: bytes that are not
    UTF-8 stay visible), and its value where it was already read (else ``_UNREAD``); None
    for a document longer than ``limit`` bytes. A line that is a whole JSON value by itself
    is one document (JSON lines); otherwise a document runs on until a line that starts with
    ``{`` (pretty-printed ones)."""
    current: list[str] = []
    size, long = 0, False
    for raw in lines:
        line = None if raw is None else raw.decode("utf-8", "surrogateescape")
        if (current or long) and line is not None and line.startswith("{"):
            yield (None if long else "".join(current)), _UNREAD
            current, size, long = [], 0, False
        if line is None:  # a line too long: its document is too
            current, size, long = [], 0, True
            continue
        if not current and not long:
            if not line.strip():
                continue
            value, problem = _load(line)
            if problem is None or problem == TOO_DEEP:
                yield line, value if problem is None else _DEEP
                continue
        if long:
            continue
        current.append(line)
        size += len(raw or b"")
        if size > limit:
            current, size, long = [], 0, True
    if current or long:
        yield (None if long else "".join(current)), _UNREAD


def documents(lines: Iterator[bytes | None], limit: int | None = None
              ) -> Iterator[tuple[int, Any, str | None, str]]:  # fmt: skip
    """``(number, document, problem, text)`` for each document in the lines of one file:
    ``problem`` is ``None`` where ``document`` was read, else why not (``text`` its start).
    Set aside: a document that is not valid JSON, nests deeper than :data:`MAX_DEPTH`, holds
    bytes that are not UTF-8, or is longer than ``limit`` bytes."""
    limit = base.MAX_RECORD_BYTES if limit is None else limit
    number = 0
    for chunk, read in _chunks(lines, limit):
        value, problem = read, None
        if chunk is None:
            problem = f"document longer than {limit} bytes"
        elif read is _DEEP:
            problem = TOO_DEEP
        elif read is _UNREAD:
            value, problem = _load(chunk)
        if problem is None and chunk is not None and not chunk.isascii() and _escaped(chunk):
            problem = NOT_UTF8
        if problem is not None:
            number += 1
            text = "" if chunk is None else chunk.strip()[:80]
            yield number, None, problem, text.encode("utf-8", "surrogateescape").decode(
                "utf-8", "replace")
            continue
        for item in value if isinstance(value, list) else [value]:
            number += 1
            yield number, item, None, ""


def _escaped(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    return unquote(str(value)).strip()


def _caller_profile(document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The original caller profile of the call flow, and whether any profile of it names an
    originator (a b-leg)."""
    flow = document.get("callflow")
    flows = [f for f in (flow if isinstance(flow, list) else [flow]) if isinstance(f, dict)]
    profiles = [f["caller_profile"] for f in flows if isinstance(f.get("caller_profile"), dict)]
    b_leg = any("originator" in p for p in profiles)
    return (profiles[-1] if profiles else {}), b_leg


def _whole(text: str) -> int | None:
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return None


def sip_status(term_status: str, hangup_cause: str, billsec: str, answer_epoch: str) -> str:
    """``sip_term_status``, else the SIP response a hangup cause stands for (see above)."""
    if term_status:
        return term_status
    cause = hangup_cause.strip().upper()
    if not cause:
        return ""
    if cause == "NORMAL_CLEARING":
        answered = (_whole(billsec) or 0) > 0 or (_whole(answer_epoch) or 0) > 0
        return "200" if answered else str(OTHER_CAUSE)
    return str(HANGUP_CAUSES.get(cause, OTHER_CAUSE))


def _start(epoch: str, stamp: str) -> str:
    seconds = _whole(epoch)
    if seconds is not None and 0 < seconds < 253_402_300_800:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    return stamp  # local time, or empty: read in the time zone later


def map_document(document: dict[str, Any]) -> dict[str, str]:
    """One document's ``voip_cdr`` text values (``start_time`` maybe still local)."""
    variables = document.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    profile, _b_leg = _caller_profile(document)

    def first(*names: str, extra: Any = None) -> str:
        for name in names:
            value = _text(variables.get(name))
            if value:
                return value
        return _text(extra)

    return {
        "call_id": first("uuid", "call_uuid"),
        "start_time": _start(first("start_epoch"), first("start_stamp")),
        "sip_account": first("sip_auth_username", "user_name", "sip_from_user"),
        "source_ip": first("sip_received_ip", "sip_network_ip"),
        "user_agent": first("sip_user_agent"),
        "from_number": first("effective_caller_id_number", "sip_from_user", "caller_id_number",
                             extra=profile.get("caller_id_number")),
        "to_number": first("sip_to_user", "destination_number",
                           extra=profile.get("destination_number")),
        "duration_s": first("billsec"),
        "sip_status": sip_status(first("sip_term_status"), first("hangup_cause"),
                                 first("billsec"), first("answer_epoch")),
    }  # fmt: skip


@dataclass
class _Pending:
    """Rows read but not yet typed; ``_line`` is a running number, mapped back to the file
    and document number after typing."""

    columns: dict[str, list[str]] = field(
        default_factory=lambda: {c: [] for c in contract.VOIP_CDR.column_names}
    )
    origin: list[tuple[str, int]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class FreeswitchReader:
    """FreeSWITCH ``mod_json_cdr`` JSON into ``voip_cdr`` (see the module's docstring)."""

    name = "freeswitch"
    description = ("FreeSWITCH mod_json_cdr JSON (one document, JSON lines, or a folder of "
                   ".json) into voip_cdr")  # fmt: skip

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            files = document_files(path)
            if not files:
                return False
            try:
                with files[0].open("rb") as fh:
                    head = fh.read(1 << 16)
            except OSError:
                return False
        text = head.decode("utf-8-sig", errors="replace").lstrip()
        return (text[:1] in ("{", "[") and '"variables"' in text
                and ('"uuid"' in text or "call_uuid" in text))  # fmt: skip

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        zone = time_zone(ctx.options.get("timezone"))
        pending = _Pending()
        files = document_files(path)
        for file in files:
            source = ctx.source if file == path else str(Path(ctx.source) / file.relative_to(path))
            try:
                with _open(file) as fh:
                    limit = base.MAX_RECORD_BYTES
                    for number, document, problem, text in documents(_lines(fh, limit), limit):
                        self._add(pending, source, number, document, problem, text)
                        # Rows set aside count too: they go out a batch at a time.
                        if len(pending.origin) + len(pending.rejected) >= ctx.batch_rows:
                            yield self._flush(pending, zone, ctx)
                            pending = _Pending()
            except (OSError, EOFError, zlib.error) as exc:
                if file == path and not pending.origin and not pending.rejected:
                    raise IngestError(f"{file}: cannot be read: {exc}") from exc
                pending.rejected.append(Rejected(source, 0, TABLE, "", "",
                                                 f"file unreadable from here: {exc}"))  # fmt: skip
        if pending.origin or pending.rejected:
            yield self._flush(pending, zone, ctx)

    def _add(self, pending: _Pending, source: str, number: int, document: Any,
             problem: str | None, text: str) -> None:  # fmt: skip
        if problem is not None:
            pending.rejected.append(Rejected(source, number, TABLE, "", text, problem))
            return
        if not isinstance(document, dict):
            kind = type(document).__name__ if document is not None else "null"
            pending.rejected.append(Rejected(source, number, TABLE, "", str(document)[:80],
                                             f"not a FreeSWITCH CDR: a JSON {kind}, not an "
                                             "object"))  # fmt: skip
            return
        row = map_document(document)
        if _caller_profile(document)[1]:
            pending.rejected.append(Rejected(source, number, TABLE, "", row["call_id"],
                                             "b-leg of a bridged call: the switch's call onward,"
                                             " not one a customer placed (its a-leg is the "
                                             "call's row)"))  # fmt: skip
            return
        for name, value in row.items():
            pending.columns[name].append(value)
        pending.origin.append((source, number))

    def _flush(self, pending: _Pending, zone: str | None, ctx: ReadContext) -> Batch:
        rejected = list(pending.rejected)
        if not pending.origin:
            return Batch(TABLE, contract.VOIP_CDR.schema.empty_table(),
                         sorted(rejected, key=lambda r: (r.source, r.line)))  # fmt: skip
        columns: dict[str, list[str] | pa.Array] = dict(pending.columns)
        columns["start_time"] = local_times(pa.array(pending.columns["start_time"], pa.string()),
                                            zone)  # fmt: skip
        raw = text_table(columns, list(range(len(pending.origin))))
        batch = coerce(TABLE, raw, ctx.source, ctx.holder_country)
        for r in batch.rejected:
            source, number = pending.origin[r.line]
            rejected.append(Rejected(source, number, r.table, r.field, r.value, r.reason))
        batch.rejected = sorted(rejected, key=lambda r: (r.source, r.line))
        batch.lines = None  # rows were numbered for coerce, across files: not their lines
        return batch


READER = FreeswitchReader()
