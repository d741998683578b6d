"""Asterisk ``cdr_csv`` (``Master.csv``) into ``voip_cdr``.

``Master.csv`` has no header. Asterisk writes one call per line in a fixed order::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
    start, answer, end, duration, billsec, disposition, amaflags[, uniqueid][, userfield]

``uniqueid`` is there with ``loguniqueid = yes`` and ``userfield`` with ``loguserfield = yes``
in ``cdr.conf``, so a file has 16, 17 or 18 fields. The count is the one most lines at the top
of the file have (18 when none has 16 to 18); with 17 the last field is ``uniqueid`` when it
looks like one (``1467367200.12``, optionally after a system name) and ``userfield`` otherwise.
Text fields are quoted, ``"`` doubled inside them; numbers are not.

The mapping:

- ``call_id``: ``uniqueid``; where there is none (or it is empty), ``md5-`` and the MD5 of the
  line's fields joined with U+001F: stable, so the same line read twice gets the same id.
- ``start_time``: ``start``. Asterisk writes local time without an offset (UTC only with
  ``usegmtime = yes``): read in ``options["timezone"]`` (an IANA name or ``±HH:MM``) when given,
  else as UTC, as the contract says of a time without an offset. A local time that a change
  of clocks makes ambiguous or skips is read as ICU reads it (DuckDB's time zones).
- ``sip_account``: the peer in ``channel``: what lies between the technology and the last
  ``-`` (``SIP/alice-00000001``, ``PJSIP/alice-00000001``, ``IAX2/bob-123`` give ``alice``,
  ``alice``, ``bob``); empty for ``Local/`` channels, which no customer authenticates.
- ``source_ip``: an IPv4 or IPv6 address in ``userfield`` where it holds one, else
  ``options["source_ip"]``, else empty: ``Master.csv`` does not log where the INVITE came from.
- ``user_agent``: empty (not logged).
- ``from_number``: ``src``; where it is empty, the number of ``clid`` (``"Name" <number>``, or
  a ``clid`` that is a number by itself).
- ``to_number``: ``dst``. ``duration_s``: ``billsec`` (talk time, not ``duration``).
- ``sip_status``: from ``disposition``: ANSWERED 200, BUSY 486, NO ANSWER 480, CANCEL 487,
  FAILED 503, CONGESTION 503 (any case, surrounding spaces ignored); any other disposition sets
  the row aside.

A line is a record: ``\\n``, ``\\r\\n`` or a lone ``\\r`` ends one, and ``_line`` is its
1-based number (a UTF-8 byte-order mark is skipped). A line with the wrong number of fields is
set aside with its number, never dropped; so is one whose quote is left open (a line cut
short), which does not swallow the line after it (and a line break inside a field, which
Asterisk does not escape, splits its record in two lines set aside); so is a line longer than
:data:`~scamtrace.ingest.base.MAX_RECORD_BYTES`, of which no more than that is ever held. A
line with no data at all (blank, or nothing but empty fields) is skipped. Bytes that are not
UTF-8 (a caller name in Latin-1, say) are replaced by U+FFFD before anything else.

Reading is vectorised. The file (decompressed on the way where it is a ``.gz``; a truncated
one keeps its rows and sets the break aside) is read into one reused buffer and cut into
pieces of a few MB that end at a line end, which pyarrow parses where they lie (no copy).
Each piece is checked for UTF-8 once and its lines counted with numpy; pyarrow then parses it
serially (that is what numbers the lines it sets aside) into text, converting only the nine
columns the mapping reads. The other columns are parsed too where a piece has a line without
``uniqueid`` (its call id hashes every field) or without a start time (it may hold no data at
all). A piece whose rows are not one per line (an open quote) is halved until they are. The
mapping is pyarrow compute kernels, with DuckDB for MD5 and time zones; no Python runs per
row.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import zlib
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scamtrace.core import contract
from scamtrace.ingest import base
from scamtrace.ingest.base import (
    TYPING_ROWS,
    Batch,
    IngestError,
    ReadContext,
    Rejected,
    coerce,
    text_table,
)

TABLE = "voip_cdr"

COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
           "lastdata", "start", "answer", "end", "duration", "billsec", "disposition",
           "amaflags")  # fmt: skip

#: Asterisk's dispositions and the final SIP response each stands for.
DISPOSITIONS: dict[str, int] = {
    "ANSWERED": 200,
    "BUSY": 486,
    "NO ANSWER": 480,
    "CANCEL": 487,
    "FAILED": 503,
    "CONGESTION": 503,
}

BLOCK_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20
_UNIQUEID = re.compile(r"^(?:.+-)?\d{9,}\.\d+$")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/\S+$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")

# RE2 patterns (pyarrow and DuckDB), applied column-wise.
_CLID_NUMBER = r"<(?P<number>[^<>]*)>"
_BARE_NUMBER = r"^\s*\+?[0-9][0-9 ()./-]*$"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]{1,4}"
_IPV4 = rf"(?:^|[^0-9A-Za-z.:])(?P<ip>{_OCTET}(?:\.{_OCTET}){{3}})(?:$|[^0-9A-Za-z.:])"
_IPV6 = (rf"(?:^|[^0-9A-Za-z.:])(?P<ip>(?:{_HEX}:){{7}}{_HEX}|(?:{_HEX}(?::{_HEX})*)?::"
         rf"(?:{_HEX}(?::{_HEX})*)?)(?:$|[^0-9A-Za-z.:])")  # fmt: skip
#: A time of day without an offset: the shape that a time zone applies to.
NAIVE_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"


def time_zone(value: object) -> str | None:
    """The ``timezone`` option checked: ``None`` (UTC), ``±HH:MM``, or an IANA name that
    DuckDB knows. Anything else is an :class:`IngestError`."""
    if value is None or str(value).strip() == "":
        return None
    zone = str(value).strip()
    if zone.upper() in ("Z", "UTC"):
        return None
    offset = _OFFSET.match(zone)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) > 23 or int(minutes) > 59:
            raise IngestError(f"time zone {zone!r}: not a valid offset (±HH:MM)")
        return f"{sign}{hours}:{minutes}"
    db = duckdb.connect()
    try:
        db.execute("SELECT timezone(?, TIMESTAMP '2000-01-01')", [zone]).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"unknown time zone {zone!r} (an IANA name such as Europe/Madrid, "
                          "or ±HH:MM)") from exc  # fmt: skip
    finally:
        db.close()
    return zone


def local_times(values: pa.Array | pa.ChunkedArray, zone: str | None) -> pa.Array:
    """Times without an offset (``YYYY-MM-DD HH:MM[:SS[.f]]``) read as wall-clock times in
    ``zone`` (a value of :func:`time_zone`) and returned as text with their UTC offset; other
    values (already with an offset, empty, unreadable) unchanged, for :func:`coerce` to judge."""
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    text = text.cast(pa.string())
    if zone is None or len(text) == 0:
        return text
    naive = pc.fill_null(pc.match_substring_regex(text, NAIVE_TIME), False)
    if _OFFSET.match(zone):
        return pc.if_else(naive, pc.binary_join_element_wise(text, zone, ""), text)
    db = duckdb.connect()
    try:
        db.execute("SET TimeZone = 'UTC'").fetchall()
        db.register("times_in", pa.table({"v": text, "naive": naive}))
        out = db.sql(
            "SELECT CASE WHEN naive THEN coalesce(CAST(timezone(?, TRY_CAST(v AS TIMESTAMP)) "
            "AS VARCHAR), v) ELSE v END AS v FROM times_in", params=[zone]
        ).to_arrow_table()
    finally:
        db.close()
    return out.column("v").combine_chunks().cast(pa.string())


def _decoded(column: pa.ChunkedArray) -> pa.Array:
    """Bytes as text (valid UTF-8: see :func:`_utf8`)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.cast(pa.string())


def peer_names(channel: pa.Array) -> pa.Array:
    """The peer in each channel name: between the technology and the last ``-``
    (``SIP/alice-00000001`` -> ``alice``); empty for ``Local/`` channels and names without a
    technology. Names numbered the usual way are cut by byte positions (see
    :func:`_usual_peers`); others are split (several times faster than a regular expression)."""
    if len(channel) == 0:
        return channel
    peer = _usual_peers(channel)
    if peer is None:
        has_tech = pc.greater_equal(pc.find_substring(channel, "/"), 0)
        named = pc.if_else(has_tech, channel, "/")
        rest = pc.list_element(pc.split_pattern(named, "/", max_splits=1), 1)
        peer = pc.list_element(pc.split_pattern(rest, "-", max_splits=1, reverse=True), 0)
    local = pc.starts_with(channel, "local/", ignore_case=True)
    return pc.if_else(local, "", peer) if pc.any(local).as_py() else peer


def _usual_peers(channel: pa.Array) -> pa.Array | None:
    """Peers cut out by byte positions where every name ends as Asterisk numbers its channels
    (``-`` and 8 characters without one, after the technology's ``/``: ``SIP/alice-0000001a``);
    None where one does not. Slicing bytes is many times cheaper than splitting text, and the
    cuts fall next to ASCII bytes, so the text stays valid UTF-8. The technologies are few:
    one cut a length of technology name."""
    if channel.null_count:
        return None
    octets = channel.cast(pa.binary())
    slash = pc.find_substring(octets, "/")
    dash = pc.subtract(pc.binary_length(octets), 9)  # where the "-" must be
    usual = pc.and_(pc.greater_equal(slash, 0), pc.less(slash, dash))
    usual = pc.and_(usual, pc.equal(pc.binary_slice(octets, -9, -8), b"-"))
    usual = pc.and_(usual, pc.equal(pc.find_substring(pc.binary_slice(octets, -8, 1 << 30), "-"),
                                    -1))  # fmt: skip
    if not pc.all(usual).as_py():
        return None
    numberless = pc.binary_replace_slice(octets, -9, 1 << 30, "")
    peers: pa.Array | None = None
    for at in pc.unique(slash).to_pylist():
        cut = pc.binary_replace_slice(numberless, 0, at + 1, "")
        peers = cut if peers is None else pc.if_else(pc.equal(slash, at), cut, peers)
    assert peers is not None
    return peers.cast(pa.string())


def ip_addresses(text: pa.Array) -> pa.Array:
    """The first IPv4 (else IPv6) address written in each value, or empty."""
    if len(text) == 0 or not pc.max(pc.binary_length(text)).as_py():
        return pa.repeat("", len(text)).cast(pa.string())
    v4 = pc.struct_field(pc.extract_regex(text, _IPV4), "ip")
    v6 = pc.struct_field(pc.extract_regex(text, _IPV6), "ip")
    v6 = pc.if_else(pc.fill_null(pc.equal(v6, "::"), False), pa.scalar(None, pa.string()), v6)
    return pc.fill_null(pc.coalesce(v4, v6), "")


def caller_numbers(src: pa.Array, clid: pa.Array) -> pa.Array:
    """``src``, or where it is empty the number in ``clid`` (``"Name" <number>``, or a
    ``clid`` that is a number by itself)."""
    empty = pc.equal(pc.utf8_trim_whitespace(src), "")
    if len(src) == 0 or not pc.any(empty).as_py():
        return src
    clid = clid.filter(empty)
    bracketed = pc.struct_field(pc.extract_regex(clid, _CLID_NUMBER), "number")
    bare = pc.if_else(pc.match_substring_regex(clid, _BARE_NUMBER), clid,
                      pa.scalar(None, pa.string()))  # fmt: skip
    return pc.replace_with_mask(src, empty, pc.fill_null(pc.coalesce(bracketed, bare), ""))


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _empty() -> pa.Table:
    return text_table({c: [] for c in contract.VOIP_CDR.column_names}, [])


def _line_hashes(table: pa.Table) -> pa.Array:
    joined = pc.binary_join_element_wise(*table.columns, "\x1f")
    db = duckdb.connect()
    try:
        db.register("lines_in", pa.table({"line": joined}))
        out = db.sql("SELECT 'md5-' || md5(line) AS h FROM lines_in").to_arrow_table()
    finally:
        db.close()
    return out.column("h").combine_chunks().cast(pa.string())


def _read_head(path: Path, size: int = 1 << 16) -> bytes:
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as fh:
            head: bytes = fh.read(size)
            return head
    except (EOFError, OSError, zlib.error):
        return b""


def _head_rows(head: bytes) -> list[list[str]]:
    text = head.decode("utf-8-sig", errors="replace")
    lines = re.split(r"\r\n|\r|\n", text)
    if len(head) >= 1 << 16 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    try:
        return [row for row in csv.reader(line for line in lines if line.strip())]
    except csv.Error:
        return []


def layout_of(table: pa.Table) -> tuple[str, ...]:
    """The file's column order, for the columns of ``table``."""
    extra = tuple(n for n in ("uniqueid", "userfield") if n in table.column_names)
    return (*COLUMNS, *extra)


def layout(head: bytes) -> tuple[str, ...]:
    """Column names for a file starting with ``head``: 16, 17 or 18 of them (see above)."""
    rows = [r for r in _head_rows(head) if 16 <= len(r) <= 18]
    if not rows:
        return (*COLUMNS, "uniqueid", "userfield")
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    if width == 16:
        return COLUMNS
    if width == 18:
        return (*COLUMNS, "uniqueid", "userfield")
    last = [r[16].strip() for r in rows if len(r) == 17]
    ids = sum(1 for v in last if _UNIQUEID.match(v))
    return (*COLUMNS, "uniqueid" if ids * 2 > len(last) else "userfield")


#: A part of the file, parsed: the pieces' tables, their line numbers, the lines set aside.
_Part = tuple[list[pa.Table], list[np.ndarray], list[Rejected]]


class AsteriskReader:
    """Asterisk ``cdr_csv`` ``Master.csv`` into ``voip_cdr`` (see the module's docstring)."""

    name = "asterisk"
    description = "Asterisk cdr_csv Master.csv (no header; 16-18 columns) into voip_cdr"

    def sniff(self, path: Path, head: bytes) -> bool:
        rows = _head_rows(head.split(b"\n", 1)[0])
        if not rows:
            return False
        first = rows[0]
        return (16 <= len(first) <= 18 and bool(_CHANNEL.match(first[5].strip()))
                and bool(_TIMESTAMP.match(first[9].strip())))  # fmt: skip

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        """Batches of ``ctx.batch_rows`` rows or so, typed in parts of at most
        :data:`TYPING_ROWS` rows (see :meth:`_typed_parts`)."""
        typed: list[Batch] = []
        for part in self._typed_parts(path, ctx):
            typed.append(part)
            # Lines set aside count too: never held for the whole file.
            if (sum(t.data.num_rows for t in typed) >= ctx.batch_rows
                    or sum(len(t.rejected) for t in typed) >= TYPING_ROWS):
                yield _joined(typed)
                typed = []
        if typed:
            yield _joined(typed)

    def _typed_parts(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        """Each part mapped and typed, with its rows set aside (in line order). A part is
        typed on a second thread while the next one is parsed (pyarrow lets go of the GIL):
        the wall time of the two, not their sum. Parts come back in order; two at most are in
        hand."""
        zone = time_zone(ctx.options.get("timezone"))

        def typed_part(part: _Part) -> Batch:
            raw, refused = self._map(*part, zone, ctx)
            batch = coerce(TABLE, raw, ctx.source, ctx.holder_country)
            batch.rejected = sorted(refused + batch.rejected, key=lambda r: r.line)
            return batch

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="asterisk-typing") as pool:
            pending: deque[Future[Batch]] = deque()
            for part in self._parts(path, ctx):
                pending.append(pool.submit(typed_part, part))
                if len(pending) > 1:  # one part typed while the next is parsed
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def read_text(self, path: Path, ctx: ReadContext) -> Iterator[tuple[pa.Table, list[Rejected]]]:
        """The reader's own work, before typing: parts of at most ``ctx.batch_rows`` and
        :data:`TYPING_ROWS` rows or so, as ``voip_cdr`` text columns with ``_line`` (what
        :func:`coerce` takes), and the lines set aside on the way."""
        zone = time_zone(ctx.options.get("timezone"))
        for part in self._parts(path, ctx):
            yield self._map(*part, zone, ctx)

    def _parts(self, path: Path, ctx: ReadContext) -> Iterator[_Part]:
        """The file parsed, in parts of at most ``ctx.batch_rows`` and :data:`TYPING_ROWS`
        rows or so: the pieces' tables, their line numbers, and the lines set aside."""
        names = layout(_read_head(path))
        tables: list[pa.Table] = []
        lines: list[np.ndarray] = []
        rejected: list[Rejected] = []
        rows = 0
        for table, numbers, problems in _parsed(path, names):
            tables.append(table)
            lines.append(numbers)
            rejected += [Rejected(ctx.source, line, TABLE, "", value, reason,
                                  stops=reason.startswith(ENDS_EARLY))
                         for line, value, reason in problems]  # fmt: skip
            rows += table.num_rows
            if max(rows, len(rejected)) >= min(ctx.batch_rows, TYPING_ROWS):
                yield tables, lines, rejected
                tables, lines, rejected, rows = [], [], [], 0
        if tables or rejected:
            yield tables, lines, rejected

    def _map(self, tables: list[pa.Table], lines: list[np.ndarray], rejected: list[Rejected],
             zone: str | None, ctx: ReadContext) -> tuple[pa.Table, list[Rejected]]:  # fmt: skip
        if not any(t.num_rows for t in tables):
            return _empty(), rejected
        # Pieces parsed with every column and pieces with the mapped ones only: the latter's
        # other columns are null, and never read (their rows have a uniqueid).
        table = pa.concat_tables([t for t in tables if t.num_rows], promote_options="default")
        table = table.select([n for n in layout_of(table) if n in table.column_names])
        numbers = np.concatenate([n for n in lines if len(n)])
        raw, refused = map_columns(table, numbers, zone, ctx.options)
        return raw, rejected + [Rejected(ctx.source, r.line, r.table, r.field, r.value, r.reason)
                                for r in refused]  # fmt: skip


#: How a truncated file's last record is set aside; it ends the reading (``stops``).
ENDS_EARLY = "file ends early (truncated)"


def _joined(parts: list[Batch]) -> Batch:
    """Typed parts as one batch; line numbers kept where every part has them."""
    lines = [p.lines for p in parts]
    return Batch(TABLE, pa.concat_tables([p.data for p in parts]),
                 [r for p in parts for r in p.rejected],
                 None if any(x is None for x in lines) else
                 pa.concat_arrays([x for x in lines if x is not None]))  # fmt: skip


Problem = tuple[int, str, str]  # (line, value, reason)


Piece = bytes | memoryview


def _pieces(path: Path) -> Iterator[tuple[Piece, bool, str | None, bytes | None]]:
    """The file in pieces that end at a line end (the last may not), a UTF-8 byte-order mark
    dropped, each with whether it holds a ``\\r``; and for a file that ends early (a truncated
    ``.gz``) the reason, once, last. A line longer than :data:`base.MAX_RECORD_BYTES` comes
    as an empty piece with its first bytes (the fourth item; None otherwise): the rest of it
    is read past, never held.

    The file is read into one buffer, reused: each piece is a view of it, valid until the
    next piece is asked for (pyarrow copies what it parses), so no bytes are allocated or
    copied per piece besides the read itself. (Read, not mapped into memory: a mapped file
    that shrinks while it is read, as a log rotated in place does, kills the process.)"""
    try:
        stream = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read: {exc}") from exc
    limit = base.MAX_RECORD_BYTES
    buffer = bytearray(min(CHUNK_BYTES, limit + 1))
    filled, start, skipping = 0, True, False
    with stream:
        while True:
            if filled == len(buffer):  # no line end in a whole buffer: a long line
                if len(buffer) > limit:
                    # Too long: set aside by its number (the buffer starts where it does),
                    # and read past the rest of it.
                    yield b"", False, None, bytes(buffer[:80])
                    filled, skipping = 0, True
                else:
                    buffer = buffer + bytearray(min(len(buffer), limit + 1 - len(buffer)))
            broken: str | None = None
            try:
                with memoryview(buffer) as free:
                    got = stream.readinto(free[filled:])
            except (EOFError, OSError, zlib.error) as exc:
                broken, got = str(exc) or type(exc).__name__, 0
            filled += got
            if start:
                if got and filled < 3:
                    continue  # too little yet to tell a byte-order mark
                if buffer[:3] == b"\xef\xbb\xbf" and filled >= 3:
                    buffer[:filled - 3] = buffer[3:filled]
                    filled -= 3
                    # Every leading mark goes: pyarrow would drop the next one unseen, and
                    # with it, a first line that holds nothing else, uncounted.
                    continue
                start = False
            if skipping:
                end = _first_line_end(buffer, filled, more=bool(got))
                if end < 0:  # the long line goes on (or its \r may be followed by \n)
                    keep = 1 if got and filled and buffer[filled - 1] == 0x0D else 0
                    buffer[:keep] = buffer[filled - keep:filled]
                    filled = keep
                    if not got:
                        if broken is not None:
                            yield b"", False, broken, None
                        return
                    continue
                buffer[:filled - end] = buffer[end:filled]
                filled -= end
                skipping = False
            cut = _last_line_end(buffer, 0, filled) if got else filled
            if got and cut == 0:
                continue
            if cut or broken is not None:
                with memoryview(buffer) as view, view[:cut] as piece:
                    yield piece, buffer.find(b"\r", 0, cut) >= 0, broken, None
            if not got:
                return
            buffer[:filled - cut] = buffer[cut:filled]
            filled -= cut


def _first_line_end(buffer: bytearray, filled: int, more: bool) -> int:
    """Where the first line of ``buffer[:filled]`` ends (past its ``\\n``, ``\\r\\n`` or lone
    ``\\r``); -1 where it does not end there (``more``: the file goes on, so a ``\\r`` at the
    very end may still be the first half of a ``\\r\\n``)."""
    ends = [i for i in (buffer.find(b"\n", 0, filled), buffer.find(b"\r", 0, filled)) if i >= 0]
    if not ends:
        return -1
    end = min(ends)
    if buffer[end] == 0x0D:
        if end + 1 < filled:
            return end + 2 if buffer[end + 1] == 0x0A else end + 1
        if more:
            return -1
    return end + 1


def _parsed(path: Path, names: tuple[str, ...]
            ) -> Iterator[tuple[pa.Table, np.ndarray, list[Problem]]]:  # fmt: skip
    """Each piece of the file parsed: rows with data (text), their line numbers, and the
    lines set aside. Pieces end at a line end, so line numbers are counted exactly."""
    first_line = 1
    empty = pa.table({n: pa.array([], pa.string()) for n in names})
    for piece, returns, broken, long_line in _pieces(path):
        if long_line is not None:
            yield empty, np.array([], np.int64), \
                [(first_line, long_line.decode("utf-8", "replace"),
                  f"line longer than {base.MAX_RECORD_BYTES} bytes")]  # fmt: skip
            first_line += 1
            continue
        if len(piece):
            text = _utf8(piece)
            count = _count_lines(text, returns)
            yield _parse(text, first_line, count, names)
            first_line += count
        if broken is not None:
            yield (empty, np.array([], np.int64),
                   [(first_line, "", f"{ENDS_EARLY}: {broken}")])  # fmt: skip


def _last_line_end(data: bytes | bytearray, start: int, end: int) -> int:
    """Where the last whole line of ``data[start:end]`` ends (0: none does yet). A ``\\r``
    at the very end is not taken as one: it may be the first half of a ``\\r\\n`` still to
    be read."""
    cut = data.rfind(b"\n", start, end) + 1
    if cut == 0:
        cut = data.rfind(b"\r", start, end - 1) + 1
    return cut


def _utf8(piece: Piece) -> Piece:
    """``piece`` with any bytes that are not UTF-8 replaced by U+FFFD (pyarrow cannot report
    a misshapen line that is not UTF-8; the rest of the line is kept)."""
    if int(np.frombuffer(piece, np.uint8).max()) < 0x80:
        return piece  # ASCII
    try:
        codecs.utf_8_decode(piece, "strict", True)
    except UnicodeDecodeError:
        return bytes(piece).decode("utf-8", "replace").encode("utf-8")
    return piece


def _count_lines(piece: Piece, returns: bool = True) -> int:
    """Lines as pyarrow counts them: ``\\n``, ``\\r\\n`` and a lone ``\\r`` end one
    (``returns``: whether ``piece`` may hold a ``\\r``; False spares a pass)."""
    octets = np.frombuffer(piece, np.uint8)
    count = int(np.count_nonzero(octets == 0x0A))
    if returns:
        lone = np.count_nonzero(octets == 0x0D)
        pairs = np.count_nonzero((octets[:-1] == 0x0D) & (octets[1:] == 0x0A))
        count += int(lone) - int(pairs)
    if len(octets) and octets[-1] not in (0x0A, 0x0D):
        count += 1
    return count


def _pyarrow(piece: Piece, names: tuple[str, ...], include: tuple[str, ...] | None = None
             ) -> tuple[pa.Table, list[tuple[int, int, str]]]:  # fmt: skip
    """``piece`` parsed by pyarrow into text columns (``include``: only those; every line is
    still split into all its fields and counted), and its misshapen rows."""
    bad: list[tuple[int, int, str]] = []  # (row number, fields, text) of misshapen rows

    def set_aside(row: pacsv.InvalidRow) -> str:
        bad.append((int(row.number or 0), int(row.actual_columns), row.text or ""))
        return "skip"

    def parse(block_size: int) -> pa.Table:
        bad.clear()
        return pacsv.read_csv(
            pa.py_buffer(piece),
            # Serial: that is what numbers the misshapen rows (and per core it is as fast).
            read_options=pacsv.ReadOptions(column_names=list(names), use_threads=False,
                                           block_size=block_size),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=set_aside),
            # The piece is valid UTF-8 already (_utf8): checking it again costs a third of
            # the parse.
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False,
                                                 check_utf8=False,
                                                 include_columns=list(include or names)),
        )  # fmt: skip

    try:
        return parse(BLOCK_BYTES), bad
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc) or len(piece) < BLOCK_BYTES:
            raise
        return parse(len(piece) + 1), bad  # a line longer than a block


#: The columns the mapping reads (:func:`map_columns`); the others are needed only to hash a
#: line without ``uniqueid`` and to tell a line without data, and are parsed only then.
MAPPED = ("src", "dst", "clid", "channel", "start", "billsec", "disposition", "uniqueid",
          "userfield")  # fmt: skip


def _needs_every_column(table: pa.Table) -> bool:
    """Whether some row of ``table`` (the :data:`MAPPED` columns) lacks a ``uniqueid`` (its
    call id is then a hash of all its fields) or a start time (it may be a line without
    data, which is skipped)."""
    if not table.num_rows:
        return False
    if "uniqueid" not in table.column_names:
        return True
    for name in ("uniqueid", "start"):
        if pc.min(pc.binary_length(table.column(name))).as_py() == 0:
            return True
    # A uniqueid of spaces only is as good as none.
    return bool(pc.any(pc.utf8_is_space(table.column("uniqueid"))).as_py())


def _parse(piece: Piece, first_line: int, count: int, names: tuple[str, ...]
           ) -> tuple[pa.Table, np.ndarray, list[Problem]]:  # fmt: skip
    """Parse ``count`` lines starting at line ``first_line``. Where pyarrow's rows are not
    one per line (a quote left open runs on into the next line), the piece is halved until
    they are: a line of ``Master.csv`` is one record, whatever its quotes say."""
    error: str | None = None
    try:
        wanted = tuple(n for n in names if n in MAPPED)
        table, bad = _pyarrow(piece, names, wanted)
        if _needs_every_column(table):
            table, bad = _pyarrow(piece, names)
    except pa.ArrowInvalid as exc:
        error = str(exc)
    if error is None and (table.num_rows + len(bad) == count or count <= 1):
        problems = [(first_line - 1 + number, text[:80],
                     f"expected {len(names)} fields, got {fields}")
                    for number, fields, text in bad]  # fmt: skip
        # Row m (1-based) of the valid ones sits on row m + the number of misshapen rows
        # before it; misshapen row L_k (k from 0) comes before row m exactly when L_k - k <= m.
        keys = np.array([b[0] for b in bad], dtype=np.int64) - np.arange(len(bad))
        ordinal = np.arange(1, table.num_rows + 1, dtype=np.int64)
        numbers = first_line - 1 + ordinal + np.searchsorted(keys, ordinal, side="right")
        # Lines without data (blank, or every field empty) are skipped. Such a line has no
        # start time, so the full test runs only where some start time is empty.
        if table.num_rows and pc.any(pc.equal(pc.binary_length(table.column("start")),
                                              0)).as_py():  # fmt: skip
            width = pc.binary_length(table.column(0))
            for column in table.columns[1:]:
                width = pc.add(width, pc.binary_length(column))
            data = pc.greater(width, 0)
            table, numbers = table.filter(data), numbers[_mask(data)]
        return table, numbers, problems
    piece = bytes(piece)  # the rare way: a line that pyarrow does not read as one row
    if count <= 1:
        empty = pa.table({n: pa.array([], pa.string()) for n in names})
        if error is not None and "Empty CSV" in error:
            return empty, np.array([], np.int64), []
        text = piece.decode("utf-8", "replace").rstrip("\r\n")[:80]
        shape = re.search(r"Expected (\d+) columns, got (\d+)", error or "")
        reason = f"expected {shape[1]} fields, got {shape[2]}" if shape else \
            f"unreadable line: {error}"  # fmt: skip
        return empty, np.array([], np.int64), [(first_line, text, reason)]
    ends = [m.end() for m in re.finditer(rb"\r\n|\r|\n", piece)]
    half = count // 2
    cut = ends[half - 1]
    left = _parse(piece[:cut], first_line, half, names)
    right = _parse(piece[cut:], first_line + half, count - half, names)
    table = pa.concat_tables([left[0], right[0]], promote_options="default")
    return table, np.concatenate([left[1], right[1]]), left[2] + right[2]


def map_columns(table: pa.Table, lines: np.ndarray, zone: str | None,
                options: Mapping[str, Any]) -> tuple[pa.Table, list[Rejected]]:  # fmt: skip
    """Master.csv columns (bytes) to ``voip_cdr`` text columns and ``_line``; rows whose
    disposition is unknown are set aside (``source`` left empty for the caller to fill)."""
    names = table.column_names
    text = {n: _decoded(table.column(n)) for n in names
            if n in ("src", "dst", "clid", "channel", "start", "billsec", "disposition",
                     "uniqueid", "userfield")}  # fmt: skip
    n = table.num_rows
    if "uniqueid" in text:
        call_id = pc.utf8_trim_whitespace(text["uniqueid"])
        empty = pc.equal(call_id, "")
        if n and pc.any(empty).as_py():
            call_id = pc.replace_with_mask(call_id, empty, _line_hashes(table.filter(empty)))
    else:
        call_id = _line_hashes(table) if n else pa.array([], pa.string())
    source_ip = pa.repeat(str(options.get("source_ip") or "").strip(), n).cast(pa.string())
    if "userfield" in text:
        logged = ip_addresses(text["userfield"])
        source_ip = pc.if_else(pc.equal(logged, ""), source_ip, logged)
    known = pa.array(list(DISPOSITIONS), pa.string())
    found = pc.index_in(text["disposition"], value_set=known)
    if n and pc.any(pc.is_null(found)).as_py():  # other case, spaces: the slower way
        tidy = pc.utf8_upper(pc.utf8_trim_whitespace(text["disposition"]))
        found = pc.coalesce(found, pc.index_in(tidy, value_set=known))
    status = pc.take(pa.array(list(DISPOSITIONS.values()), pa.int64()), found)
    columns = {
        "call_id": call_id,
        "start_time": local_times(pc.utf8_trim_whitespace(text["start"]), zone),
        "sip_account": peer_names(pc.utf8_trim_whitespace(text["channel"])),
        "source_ip": source_ip,
        "user_agent": pa.repeat("", n).cast(pa.string()),
        "from_number": caller_numbers(text["src"], text["clid"]),
        "to_number": text["dst"],
        "duration_s": text["billsec"],
        "sip_status": status.cast(pa.string()),
    }
    unknown = pc.is_null(status)
    refused: list[Rejected] = []
    if n and pc.any(unknown).as_py():
        where = _mask(unknown)
        values = text["disposition"].filter(unknown).to_pylist()
        refused = [Rejected("", int(line), TABLE, "sip_status", str(value)[:80],
                            "missing disposition" if not str(value).strip() else
                            "unknown disposition (expected ANSWERED, BUSY, NO ANSWER, CANCEL, "
                            "FAILED or CONGESTION)")
                   for line, value in zip(lines[where], values, strict=True)]  # fmt: skip
        keep = pc.invert(unknown)
        columns = {k: v.filter(keep) for k, v in columns.items()}
        lines = lines[~where]
    return text_table(columns, pa.array(lines, pa.int64())), refused


READER = AsteriskReader()
