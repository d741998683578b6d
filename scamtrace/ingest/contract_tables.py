"""The contract's own tables, as CSV (UTF-8 or a named encoding, plain or gzip) or Parquet.

A file is recognised by its name (``carrier_cdr.csv``, ``transfers.parquet``,
``voip_cdr.csv.gz``) or, failing that, by a header holding a contract table's columns
(``--table`` settles it when two tables would fit). A header that names a column twice is
refused (which of the two would be read?).

Lines count records: the header is line 1, a blank line counts (and is skipped), a newline
inside quotes does not end a record. Every record is a row, skipped (blank), or set aside with
its line, field and reason: one with the wrong number of fields; one longer than
:data:`~scamtrace.ingest.base.MAX_RECORD_BYTES` (the reader holds no more of it than that and
goes on after it); the last one when the file ends inside a quoted field (it was cut); a value
that is not text in the file's encoding.

Encoding: ``--encoding`` (``ctx.options["encoding"]``) when given. Otherwise a byte-order mark
says UTF-8, UTF-16 or UTF-32; a file whose first MB is UTF-8 is read as UTF-8 (a later value
that is not is set aside); other text is read as GB18030 or as Windows-1252 (Latin-1) only
where its first MB can only be that: GB18030 when every run of bytes past ASCII pairs up into
Chinese characters, Windows-1252 when no such run is longer than 3 bytes and each is a letter
or punctuation. Anything else is refused, asking for ``--encoding``: a guess never turns
``Peña`` into ``Pe馻``. Past the first MB, a guessed encoding is still checked (a run of 4 or
more bytes in Windows-1252, a run of odd length in GB18030, where the other encoding is the
likelier): such values are set aside, not read in the guessed encoding.

CSV is streamed: each piece of the file passes through :class:`_Records` (decoded to UTF-8
where needed; the quote state followed exactly as pyarrow parses: a quote opens a field only
at its start), which hands pyarrow whole records and puts a marker record in place of one too
long, cut, or blank; pyarrow parses serially, so that it numbers the records it sets aside,
and each part is typed on a second thread meanwhile. Rows set aside go out with their part
(never held for the whole file). A truncated gzip keeps the rows before the break and sets the
break aside as a rejected record; should pyarrow stop inside a file all the same, the rows
before are kept and :class:`~scamtrace.ingest.base.StoppedEarly` is raised after them.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import gzip
import io
import os
import unicodedata
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scamtrace.core import contract
from scamtrace.core.amounts import plain_columns
from scamtrace.ingest import base
from scamtrace.ingest.base import (
    TYPING_ROWS,
    Batch,
    IngestError,
    ReadContext,
    Rejected,
    StoppedEarly,
    coerce,
)

#: Bytes of the file's start that the encoding is told from.
ENCODING_HEAD = 1 << 20
#: pyarrow's block: a record must fit in one (:data:`base.MAX_RECORD_BYTES` does).
BLOCK_BYTES = 1 << 24
#: Bytes read, decoded and scanned at a time (numpy's passes stay in the cache)...
STEP_BYTES = 1 << 18
#: ...and handed to pyarrow at a time, a block of its own each.
PIECE_BYTES = 1 << 20
QUOTE, DELIMITER, LF, CR = 0x22, 0x2C, 0x0A, 0x0D

TOO_LONG = "record longer than {limit} bytes (field {field!r} runs past it)"
CUT = "file ends inside a quoted field: the last record is cut short"


def table_for(path: Path, header: list[str] | None = None) -> str | None:
    """The contract table a file holds, by its name or else by its header."""
    stem = path.name.split(".")[0]
    if stem in contract.INPUT_TABLES:
        return stem
    if header:
        fits = [t.name for t in contract.INPUT_TABLES.values()
                if all(c.name in header for c in t.columns if not c.optional)]  # fmt: skip
        if len(fits) == 1:
            return fits[0]
    return None


def _open(path: Path) -> IO[bytes]:
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read: {exc}") from exc


# ------------------------------------------------------------------------------- encodings


def _mark(exc: UnicodeError) -> tuple[str, int]:
    # Bytes that are not text in the encoding become a byte that is never UTF-8 (0xFF, by
    # surrogateescape): the row holding them is set aside by line and field, not read.
    if isinstance(exc, UnicodeDecodeError):
        return "\udcff", exc.end
    raise exc


MARK_ERRORS = "scamtrace-mark"
codecs.register_error(MARK_ERRORS, _mark)


@dataclass(frozen=True)
class Encoding:
    """How a file's bytes become text: ``codec`` None for UTF-8 read as it is."""

    codec: str | None
    name: str
    guessed: bool = False

    @property
    def reason(self) -> str:
        """Why a value that is not text in it is set aside."""
        if self.codec is None:
            return "not UTF-8 text (the file starts as UTF-8)"
        if self.guessed:
            return (f"not {self.name} text (the encoding guessed from the start of the file; "
                    "name it with --encoding)")  # fmt: skip
        return f"not {self.name} text"


UTF8 = Encoding(None, "UTF-8")


def encoding_option(value: object) -> Encoding | None:
    """The ``encoding`` option checked (``None`` when not given); an unknown one is an
    :class:`IngestError`."""
    if value is None or str(value).strip() == "":
        return None
    try:
        codec = codecs.lookup(str(value).strip()).name
    except LookupError as exc:
        raise IngestError(f"unknown encoding {str(value)!r} (utf-8, latin-1, cp1252, gb18030, "
                          "big5, utf-16...)") from exc  # fmt: skip
    return UTF8 if codec in ("utf-8", "utf-8-sig") else Encoding(codec, codec)


def choose_encoding(path: Path, named: object = None) -> Encoding:
    """The file's encoding: ``named`` (the ``encoding`` option), else what its start can only
    be (see the module's docstring); an :class:`IngestError` where that is not certain."""
    chosen = encoding_option(named)
    if chosen is not None:
        return chosen
    with _open(path) as fh:
        try:
            head = fh.read(ENCODING_HEAD)
        except (EOFError, OSError, zlib.error):
            head = b""
    return guess_encoding(head, cut=len(head) == ENCODING_HEAD, path=path)


def guess_encoding(head: bytes, *, cut: bool = False, path: Path | str = "") -> Encoding:
    """The encoding of a file starting with ``head`` (``cut``: the file goes on after it)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return Encoding("utf-32", "UTF-32")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", "UTF-16")
    try:
        # A cut in the middle of a multi-byte character at the sample's end is fine.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return UTF8
    except UnicodeDecodeError:
        pass
    if b"\x00" in head:
        raise IngestError(f"{path}: holds NUL bytes, as UTF-16 without a byte-order mark "
                          "does: re-save it as UTF-8, or name its encoding with --encoding "
                          "(utf-16-le, utf-16-be)")  # fmt: skip
    runs = _high_runs(np.frombuffer(head, np.uint8), cut)
    if _looks_gb18030(head, runs):
        return Encoding("gb18030", "GB18030", guessed=True)
    if _looks_western(head, runs):
        return Encoding("cp1252", "Windows-1252 (Latin-1)", guessed=True)
    line = _first_line_past_ascii(head)
    raise IngestError(
        f"{path}: not UTF-8, and its encoding cannot be told for sure: read as Latin-1 it says "
        f"{line.decode('cp1252', 'replace')!r}, as GB18030 {line.decode('gb18030', 'replace')!r};"
        " name it with --encoding (latin-1, cp1252, gb18030, big5...) or re-save it as UTF-8"
    )  # fmt: skip


def _high_runs(octets: np.ndarray, cut: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the runs of bytes past ASCII (the last dropped when ``cut``: it
    may go on)."""
    high = np.concatenate([[False], octets >= 0x80, [False]]).astype(np.int8)
    edges = np.diff(high)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if cut and len(ends) and ends[-1] == len(octets):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends - starts


def _looks_gb18030(head: bytes, runs: tuple[np.ndarray, np.ndarray]) -> bool:
    """Chinese in GB18030 for sure: every run of bytes past ASCII pairs up (GB2312's
    characters are two such bytes; Latin-1's ñ between ASCII letters is a run of one), some
    run holds two characters or more, and the text is Chinese characters and punctuation."""
    lengths = runs[1]
    if not len(lengths) or np.any(lengths % 2) or int(lengths.max()) < 4:
        return False
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) >= 0x80]
    cjk = sum(1 for c in wide if _cjk(c))
    return cjk >= 0.95 * len(wide)


def _cjk(char: str) -> bool:
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x3000 <= code <= 0x303F
            or 0xFF00 <= code <= 0xFFEF or 0x2000 <= code <= 0x206F)  # fmt: skip


def _looks_western(head: bytes, runs: tuple[np.ndarray, np.ndarray]) -> bool:
    """Windows-1252 (Latin-1) for sure: runs of bytes past ASCII are short (``ñ``, ``ção``;
    Cyrillic or Greek words in their 8-bit encodings are long), and each such byte is a
    letter, punctuation, a currency sign or a space."""
    lengths = runs[1]
    if len(lengths) and int(lengths.max()) > 3:
        return False
    try:
        text = codecs.getincrementaldecoder("cp1252")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(unicodedata.category(c)[0] in "LP" or unicodedata.category(c) in ("Sc", "Zs")
               or c == "°" for c in text if ord(c) >= 0x80)  # fmt: skip


def _first_line_past_ascii(head: bytes) -> bytes:
    octets = np.frombuffer(head, np.uint8)
    at = int(np.argmax(octets >= 0x80))
    start = head.rfind(b"\n", 0, at) + 1
    end = head.find(b"\n", at)
    line = head[start:end if end >= 0 else len(head)].rstrip(b"\r")
    if len(line) > 60:
        line = line[max(0, at - start - 30):][:60]
    return line


def _suspect_gb18030(octets: np.ndarray) -> np.ndarray:
    """Bytes of a guessed GB18030 file that are likelier another encoding: runs past ASCII
    of odd length (``Peña`` in Latin-1; a GB2312 character is two such bytes)."""
    starts, lengths = _high_runs(octets)
    odd = lengths % 2 == 1
    return _run_mask(len(octets), starts[odd], lengths[odd])


def _suspect_western(octets: np.ndarray) -> np.ndarray:
    """Bytes of a guessed Windows-1252 file that are likelier another encoding: runs past
    ASCII of 4 bytes or more (Chinese, Cyrillic words)."""
    starts, lengths = _high_runs(octets)
    long = lengths >= 4
    return _run_mask(len(octets), starts[long], lengths[long])


def _run_mask(size: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    mark = np.zeros(size + 1, np.int32)
    np.add.at(mark, starts, 1)
    np.add.at(mark, starts + lengths, -1)
    return np.cumsum(mark[:-1]) > 0


# --------------------------------------------------------------------------- the records


def toggles(octets: np.ndarray, inside: bool = False, prev: int = LF,
            after_close: bool = False) -> np.ndarray:  # fmt: skip
    """Positions of the quotes in ``octets`` that open or close a quoted part, as pyarrow
    reads CSV: outside quotes, a quote opens one only at a field's start (after a delimiter or
    a line end: ``prev`` is the byte before ``octets``); inside, every quote closes it (a
    doubled quote closes and reopens it at once: ``after_close`` says whether ``prev`` was a
    quote that closed). Other quotes are text (``5" screen``). ``inside``: the state before.

    Vectorised: as if every quote counted, then the first one that may not (an opening quote
    neither at a field's start nor right after a closing one) is dropped and the rest looked
    at again; a file with many such quotes is followed quote by quote."""
    quotes = np.flatnonzero(octets == QUOTE)
    if not len(quotes):
        return quotes
    # Most files: every quote counts. Then each opening one (every other, from the first
    # when outside) follows a delimiter, a line end, or the quote that closed before it.
    opening = quotes[int(inside)::2]
    if len(opening):
        before = octets[opening - 1]
        if opening[0] == 0:  # the byte before is the last one read: a quote only counts
            before[0] = QUOTE if after_close else (0 if prev == QUOTE else prev)  # if closing
        if _OPENS_AFTER[before].all():
            return quotes
    before = octets[quotes - 1]
    if quotes[0] == 0:
        before[0] = prev
    start = (before == DELIMITER) | (before == LF) | (before == CR)
    kept = np.ones(len(quotes), bool)
    for _ in range(32):
        index = np.flatnonzero(kept)
        at = quotes[index]
        opening = (np.arange(len(at)) + inside) % 2 == 0
        after = np.zeros(len(at), bool)
        after[1:] = at[1:] - 1 == at[:-1]
        if len(at) and at[0] == 0:
            after[0] = after_close
        stray = opening & ~start[index] & ~after
        if not stray.any():
            return at
        kept[index[int(np.argmax(stray))]] = False
    return _toggles_one_by_one(quotes, start, inside, after_close)


_OPENS_AFTER = np.zeros(256, bool)
_OPENS_AFTER[[DELIMITER, LF, CR, QUOTE]] = True


def _may_hold_blank(data: bytes) -> bool:
    """Whether two line ends follow one another in ``data`` (not as ``\\r\\n``): a blank line,
    unless inside quotes. (numpy over the bytes: a search of bytes for two-byte patterns
    that start with as common a byte as a line end costs several times more.)"""
    octets = np.frombuffer(data, np.uint8)
    if data.find(b"\r") < 0:
        feeds = octets == LF
        return bool((feeds[1:] & feeds[:-1]).any())
    ends = (octets == LF) | (octets == CR)
    pairs = ends[1:] & ends[:-1] & ~((octets[:-1] == CR) & (octets[1:] == LF))
    return bool(pairs.any())


def _toggles_one_by_one(quotes: np.ndarray, start: np.ndarray, inside: bool,
                        after_close: bool) -> np.ndarray:  # fmt: skip
    found: list[int] = []
    closed = -1 if after_close else -2
    for i, at in enumerate(quotes.tolist()):
        if inside:
            found.append(at)
            inside, closed = False, at
        elif start[i] or closed == at - 1:
            found.append(at)
            inside = True
    return np.array(found, np.int64)


def record_ends(octets: np.ndarray, quoted: np.ndarray, inside: bool = False,
                prev: int = LF) -> np.ndarray:  # fmt: skip
    """Positions of the bytes that end a record (``\\n``, a lone ``\\r``, the ``\\r`` of
    ``\\r\\n``) outside quotes, given the ``quoted`` toggles of :func:`toggles`."""
    ends = np.flatnonzero((octets == LF) | (octets == CR))
    if len(ends):
        before = octets[ends - 1]
        if ends[0] == 0:
            before[0] = prev
        ends = ends[~((octets[ends] == LF) & (before == CR))]  # the \n of \r\n
    if len(quoted) or inside:
        ends = ends[(np.searchsorted(quoted, ends) + inside) % 2 == 0]
    return ends


@dataclass(frozen=True)
class _Mark:
    """What a marker record stands for: a record set aside, and why."""

    reason: str
    field: int = -1
    value: str = ""


class _Records(io.RawIOBase):
    """The CSV file as UTF-8 bytes, whole records at a time, for pyarrow.

    Follows the quote state exactly (:func:`toggles`) to find where records end; holds back
    the record still being read (at most ``limit`` bytes), and puts a marker record (its first
    field :attr:`token` and a number, the rest empty) in place of a blank line, of a record
    longer than ``limit`` (whose rest is then skipped), and of a last record the file cuts
    inside quotes: pyarrow still counts each as one record, so every line number holds.
    Buffers grow by appending and are cut once a piece: linear time, whatever the lines."""

    def __init__(self, raw: IO[bytes], encoding: Encoding, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        # Pieces of about 1 MB: a block of pyarrow's holds one, and so its rows, and the rows
        # it sets aside, stay few. Decoded, a step stays under the limit (UTF-8 takes at most
        # 3 bytes for 1 of another encoding).
        self.step = max(1 << 10, min(STEP_BYTES, limit // 4))
        self.decoder = None if encoding.codec is None else \
            codecs.getincrementaldecoder(encoding.codec)(errors=MARK_ERRORS)  # fmt: skip
        self.suspect = None
        if encoding.guessed:
            self.suspect = _suspect_gb18030 if encoding.codec == "gb18030" else _suspect_western
        self.token = f"\x00scamtrace:{os.urandom(6).hex()}:"
        self.marks: dict[int, _Mark] = {}
        self.markers = 0  # marker records handed out (blank lines and those in marks)
        self.header: list[str] | None = None
        self.broken: str | None = None
        self.done = False
        self._carry = b""  # raw bytes held back: a run past ASCII that may go on
        self._bom = encoding.codec is None  # UTF-8 byte-order marks still to drop
        self._out: list[bytes | memoryview] = []  # whole records, from one piece
        self._ready: deque[bytes] = deque()  # pieces of whole records, for pyarrow
        self._at = 0  # how much of the first ready piece pyarrow has had
        self._pending = bytearray()  # the record being read, not handed out yet
        self._inside = False
        self._prev = LF
        self._after_close = False
        self._skipping = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """One piece of whole records at a time (a read asks for a block; less is given):
        pyarrow parses each as a block, so that a block never holds more than a piece's rows
        (and their rows set aside), and a record is never cut between two blocks but where
        it is over a piece's size."""
        while not self._ready and not self.done:
            self._pull()
        if not self._ready:
            return 0
        piece = self._ready[0]
        n = min(len(b), len(piece) - self._at)
        b[:n] = piece[self._at:self._at + n]
        self._at += n
        if self._at == len(piece):
            self._ready.popleft()
            self._at = 0
        return n

    def read(self, size: int = -1) -> bytes:
        """As :meth:`readinto`, without copying the piece once more (``size`` < 0: all)."""
        if size < 0:
            return b"".join(iter(lambda: self.read(1 << 30), b""))
        while not self._ready and not self.done:
            self._pull()
        if not self._ready:
            return b""
        piece = self._ready[0]
        if self._at == 0 and len(piece) <= size:
            self._ready.popleft()
            return piece
        end = min(len(piece), self._at + size)
        part = piece[self._at:end]
        self._at = end
        if self._at == len(piece):
            self._ready.popleft()
            self._at = 0
        return part

    def _hand_out(self) -> None:
        if self._out:
            self._ready.append(b"".join(self._out))  # the one copy of the bytes read
            self._out = []

    def read_header(self) -> list[str]:
        """The header's names (the file's first record), reading as far as it ends."""
        while self.header is None and not self.done:
            self._pull()
        if self.header is None:
            raise IngestError("no header line (the file is empty)")
        return self.header

    # -------------------------------------------------------------- reading and decoding

    def _pull(self) -> None:
        try:
            read1 = getattr(self.raw, "read1", None)
            # read1: what one decompression step gives, so a cut loses only its last step
            chunk = read1(self.step) if read1 is not None else self.raw.read(self.step)
        except (EOFError, OSError, zlib.error) as exc:
            self.broken = str(exc) or type(exc).__name__
            self._pending.clear()  # the record the break cut
            self._hand_out()
            self.done = True
            return
        if not chunk:
            self._feed(self._decode(b"", final=True))
            self._finish()
            self._hand_out()
            self.done = True
            return
        self._feed(self._decode(chunk))
        if sum(len(x) for x in self._out) >= PIECE_BYTES:
            self._hand_out()

    def _decode(self, chunk: bytes, final: bool = False) -> bytes:
        if self.suspect is not None:
            chunk = self._marked(self._carry + chunk, final)
        if self.decoder is not None:
            text = self.decoder.decode(chunk, final)
            return text.encode("utf-8", "surrogateescape")
        if self._bom:
            chunk = self._carry + chunk
            self._carry = b""
            while chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
            if len(chunk) < 3 and codecs.BOM_UTF8.startswith(chunk) and not final:
                self._carry = chunk  # too little yet to tell a byte-order mark
                return b""
            self._bom = False
        return chunk

    def _marked(self, chunk: bytes, final: bool) -> bytes:
        """``chunk`` with the bytes :attr:`suspect` doubts made undecodable (0x81 is text in
        neither GB18030 as a last byte nor Windows-1252). A run past ASCII at its end waits
        for the next chunk (up to 64 kB of it), whose start may lengthen it."""
        octets = np.frombuffer(chunk, np.uint8)
        self._carry = b""
        if not final and len(octets):
            low = np.flatnonzero(octets < 0x80)
            keep = int(low[-1]) + 1 if len(low) else 0
            if len(octets) - keep < 1 << 16:
                self._carry, chunk, octets = chunk[keep:], chunk[:keep], octets[:keep]
        assert self.suspect is not None
        doubt = self.suspect(octets)
        if not doubt.any():
            return chunk
        marked = octets.copy()
        marked[doubt] = 0xFF if self.suspect is _suspect_gb18030 else 0x81
        return marked.tobytes()

    # ---------------------------------------------------------------------- records

    def _feed(self, data: bytes) -> None:
        if not data:
            return
        octets = np.frombuffer(data, np.uint8)
        quoted = None
        if self._inside or data.find(b'"') >= 0:
            quoted = toggles(octets, self._inside, self._prev, self._after_close)
        inside = self._inside
        ends = None
        if not self._needs_every_end(data):
            ends = self._first_and_last_end(data, quoted, inside)
        if ends is None:
            ends = record_ends(octets, quoted if quoted is not None else np.zeros(0, np.int64),
                               inside, self._prev)  # fmt: skip
        self._place(data, ends)
        if quoted is not None and len(quoted):
            self._inside = (len(quoted) + inside) % 2 == 1
            self._after_close = not self._inside and int(quoted[-1]) == len(data) - 1
        else:
            self._after_close = False
        self._prev = data[-1]

    def _needs_every_end(self, data: bytes) -> bool:
        """Whether a piece may hold a blank line, or starts the file, or is long enough to
        hold a record over the limit: then every record end is found."""
        return (self.header is None or len(data) > self.limit or data[0] in (LF, CR)
                or _may_hold_blank(data))  # fmt: skip

    def _first_and_last_end(self, data: bytes, quoted: np.ndarray | None,
                            inside: bool) -> np.ndarray | None:  # fmt: skip
        """The first and the last record end of ``data`` (a piece that needs no more), found
        by the C search of bytes; None where one of them may be inside quotes (then every end
        is looked for, the long way)."""
        skip = 1 if data[0] == LF and self._prev == CR else 0  # the \n of a \r\n
        found = [i for i in (data.find(b"\n", skip), data.find(b"\r", skip)) if i >= 0]
        if not found:
            return None if quoted is not None else np.zeros(0, np.int64)
        first = min(found)
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if data[last] == LF and last > 0 and data[last - 1] == CR:
            last -= 1
        if quoted is not None:
            before = np.searchsorted(quoted, [first, last]) + inside
            if (before % 2).any():
                return None
        return np.array(sorted({first, last}), np.int64)

    def _place(self, data: bytes, ends: np.ndarray) -> None:
        """Hand out the records of ``data`` that end in it (``ends``: where, ascending; all
        of them where a record may need a marker), holding back the one that does not."""
        start = 0
        if self._skipping:  # the rest of a record set aside as too long
            if not len(ends):
                return
            start, ends = int(ends[0]) + 1, ends[1:]
            self._out.append(data[start - 1:start])  # its end, after its marker
            self._skipping = False
        if not len(ends):
            self._pending += data[start:]
            if len(self._pending) > self.limit:
                self._too_long(bytes(self._pending[:self.limit + 1]), b"")
                self._pending.clear()
                self._skipping = True
            return
        starts = np.concatenate([[start], ends[:-1] + 1])
        sizes = ends - starts + 1
        sizes[0] += len(self._pending)
        special = sizes > self.limit
        # A blank line: nothing but its end (and the \n of the \r\n before it).
        lead = _octets_at(data, starts)
        blank = (sizes <= 2) & ((lead == LF) | (lead == CR))
        blank[0] &= not self._pending.strip(b"\r\n")
        special |= blank
        if self.header is None:
            special[0] = True
        if not special.any():
            self._out.append(bytes(self._pending))
            self._out.append(memoryview(data)[start:int(ends[-1]) + 1])
            self._pending = bytearray(data[int(ends[-1]) + 1:])
            return
        view = memoryview(data)
        at = start
        for i in np.flatnonzero(special).tolist():
            first = int(starts[i])
            if i == 0:
                record = bytes(self._pending) + data[first:int(ends[0]) + 1]
                self._pending.clear()
            else:
                self._out.append(bytes(self._pending))
                self._pending.clear()
                self._out.append(view[at:first])
                record = data[first:int(ends[i]) + 1]
            self._special(record)
            at = int(ends[i]) + 1
        self._out.append(bytes(self._pending))
        self._out.append(view[at:int(ends[-1]) + 1])
        self._pending = bytearray(data[int(ends[-1]) + 1:])

    def _special(self, record: bytes) -> None:
        """A record that is the header, blank, or too long (ending in its end byte)."""
        if self.header is None:
            if len(record) > self.limit:
                raise IngestError(f"header line longer than {self.limit} bytes")
            text = record.decode("utf-8", "replace").rstrip("\r\n")
            self.header = next(csv.reader([text]), [""])
            self._out.append(record)
            return
        # The marker keeps the record's ends: the \n of a \r\n before it, and its own end
        # byte (a \r whose \n follows), so that it stays one record, no more.
        if len(record) > 1 and record[:1] == b"\n":
            self._out.append(b"\n")
            record = record[1:]
        if len(record) > self.limit:
            self._too_long(record[:self.limit + 1], record[-1:])
        else:  # blank: dropped by the reader without a word, by its marker alone
            self.markers += 1
            self._out.append(f"{self.token}b".encode() + self._commas() + record[-1:])

    def _too_long(self, start: bytes, end: bytes) -> None:
        """A marker for a record longer than the limit, of which ``start`` is the beginning
        (just past the limit): the field that runs past it is named."""
        field, value = _field_at(start, self.limit)
        self._marker(_Mark(TOO_LONG.format(limit=self.limit, field="{field}"), field, value),
                     end)  # fmt: skip

    def _marker(self, mark: _Mark, end: bytes) -> None:
        number = len(self.marks)
        self.marks[number] = mark
        self.markers += 1
        self._out.append(f"{self.token}{number}".encode() + self._commas() + end)

    def _commas(self) -> bytes:
        return b"," * (len(self.header or [""]) - 1)

    def _finish(self) -> None:
        if self._skipping or not self._pending:
            return
        if self._inside:
            record = bytes(self._pending)
            self._pending.clear()
            if self.header is None:
                raise IngestError("the file ends inside a quoted field of its header line")
            if record[:1] == b"\n":  # the \n of a \r\n before it
                self._out.append(b"\n")
                record = record[1:]
            quoted = toggles(np.frombuffer(record, np.uint8))
            field, value = _field_at(record, int(quoted[-1]) if len(quoted) else 0)
            self._marker(_Mark(CUT, field, value), b"\n")
            return
        if self.header is None:
            self._special(bytes(self._pending))
            self._pending.clear()
            return
        self._out.append(bytes(self._pending))
        self._pending.clear()


def _octets_at(data: bytes, at: np.ndarray) -> np.ndarray:
    octets = np.frombuffer(data, np.uint8)
    found: np.ndarray = octets[np.minimum(at, len(octets) - 1)]
    return found


def _field_at(record: bytes, at: int) -> tuple[int, str]:
    """(index of the field holding byte ``at`` of ``record``, that field's start as text)."""
    octets = np.frombuffer(record, np.uint8)
    quoted = toggles(octets)
    commas = np.flatnonzero(octets[:at] == DELIMITER)
    outside = commas[np.searchsorted(quoted, commas) % 2 == 0]
    begin = int(outside[-1]) + 1 if len(outside) else 0
    value = record[begin:begin + 400].decode("utf-8", "replace").lstrip('"')[:80]
    return len(outside), value


# ---------------------------------------------------------------------------- the reader


class ContractReader:
    name = "contract"
    description = "the contract's tables as CSV (UTF-8 or --encoding; .gz) or Parquet"

    def sniff(self, path: Path, head: bytes) -> bool:
        named = path.suffix == ".parquet" or path.name.endswith((".csv", ".csv.gz"))
        if named and table_for(path) is not None:
            return True
        wide = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = head.decode("utf-16" if wide else "utf-8-sig", errors="replace")
        first = text.split("\n", 1)[0]
        return table_for(path, [c.strip().strip('"') for c in first.split(",")]) is not None

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        if path.suffix == ".parquet":
            yield from self._parquet(path, ctx)
        else:
            yield from self._csv(path, ctx)

    def _target(self, path: Path, header: list[str], ctx: ReadContext) -> str:
        twice = _repeated(header)
        if twice is not None:
            raise IngestError(f"{path}: the header names column {twice!r} twice; which one "
                              "holds it cannot be told (rename or remove one)")  # fmt: skip
        name = ctx.options.get("table") or table_for(path, header)
        if name not in contract.INPUT_TABLES:
            raise IngestError(f"{path}: not a contract table by its name or header; "
                              "say which with --table")  # fmt: skip
        return str(name)

    def _parquet(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise IngestError(f"{path}: not a readable Parquet file: {exc}") from exc
        table = self._target(path, pf.schema_arrow.names, ctx)
        plain = plain_columns(pf.schema_arrow)
        first = 1
        for batch in pf.iter_batches(batch_size=ctx.batch_rows):
            numbers = np.arange(first, first + batch.num_rows, dtype=np.int64)
            yield coerce(table, _as_text(pa.Table.from_batches([batch]), numbers), ctx.source,
                         ctx.holder_country, plain_amounts=plain)  # fmt: skip
            first += batch.num_rows

    def _csv(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        encoding = choose_encoding(path, ctx.options.get("encoding"))
        with _open(path) as raw:
            records = _Records(raw, encoding, base.MAX_RECORD_BYTES)
            try:
                header = records.read_header()
            except IngestError as exc:
                if records.broken:
                    raise IngestError(f"{path}: truncated before its first rows: "
                                      f"{records.broken}") from exc  # fmt: skip
                raise IngestError(f"{path}: {exc}") from exc
            table = self._target(path, header, ctx)
            yield from _CsvBatches(path, table, records, encoding, ctx).read(header)


class _CsvBatches:
    """One CSV file's batches: pyarrow's records numbered (see :meth:`read`), typed in parts,
    each part with the rows it sets aside."""

    def __init__(self, path: Path, table: str, records: _Records, encoding: Encoding,
                 ctx: ReadContext) -> None:  # fmt: skip
        self.path = path
        self.table = table
        self.records = records
        self.encoding = encoding
        self.ctx = ctx
        self.next = 2  # the number of the next record pyarrow gives (the header is 1)
        self.skipped: list[int] = []  # numbers of records pyarrow set aside, not yet passed
        self.set_aside: list[Rejected] = []

    def _invalid(self, row: pacsv.InvalidRow) -> str:
        number = int(row.number) if row.number is not None else 0
        text = row.text or ""
        self.skipped.append(number)
        if text.startswith(self.records.token):  # a marker pyarrow did not read as a row
            marked = self._marked(number, text)
            if marked is not None:
                self.set_aside.append(marked)
        else:
            self.set_aside.append(Rejected(
                self.ctx.source, number, self.table, "", text[:80],
                f"expected {row.expected_columns} fields, got {row.actual_columns}"))
        return "skip"

    def _marked(self, number: int, text: str) -> Rejected | None:
        """The record a marker stands for, set aside (None for a blank line)."""
        code = text[len(self.records.token):].split(",", 1)[0]
        if code == "b":
            return None
        mark = self.records.marks[int(code)]
        header = self.records.header or []
        field = header[mark.field] if 0 <= mark.field < len(header) else \
            (f"column {mark.field + 1}" if mark.field >= 0 else "")  # fmt: skip
        return Rejected(self.ctx.source, number, self.table, field, mark.value,
                        mark.reason.format(field=field))  # fmt: skip

    def read(self, header: list[str]) -> Iterator[Batch]:
        """pyarrow parses serially, so that it numbers the records it sets aside (the header
        is 1; blank lines count, since they reach it as marker records); the rows of a batch
        are the records from :attr:`next` on, less those. Each part is typed on a second
        thread while the next is parsed (pyarrow lets go of the GIL): parts come back in
        order, two at most in hand."""
        parse = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                   invalid_row_handler=self._invalid)  # fmt: skip
        try:
            reader = pacsv.open_csv(self.records, read_options=pacsv.ReadOptions(
                block_size=BLOCK_BYTES, use_threads=False), parse_options=parse,
                convert_options=_all_text(header))  # fmt: skip
        except pa.ArrowInvalid as exc:
            if self.records.broken:
                raise IngestError(f"{self.path}: truncated before its first rows: "
                                  f"{self.records.broken}") from exc  # fmt: skip
            raise IngestError(f"{self.path}: not a readable CSV file: {exc}") from exc
        twice = _repeated(reader.schema.names)
        if twice is not None:
            raise IngestError(f"{self.path}: the header names column {twice!r} twice; which "
                              "one holds it cannot be told (rename or remove one)")  # fmt: skip
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-typing") as pool:
            typing: deque[Future[list[Batch]]] = deque()

            def typed() -> None:
                set_aside, self.set_aside = self.set_aside, []
                typing.append(pool.submit(self._typed, parts, set_aside))

            parts: list[tuple[pa.RecordBatch, np.ndarray]] = []
            rows = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    # Records are bounded and whole, so pyarrow should not stop; if it does,
                    # what came before is kept and the source is not taken as read.
                    typed()
                    while typing:
                        yield from typing.popleft().result()
                    raise StoppedEarly(f"{self.path}: unreadable CSV at or after line "
                                       f"{self.next}, where reading stopped: {exc}") from exc
                parts.append((batch, self._numbers(batch.num_rows)))
                rows += batch.num_rows
                # Rows set aside go out with each part, never held for the whole file.
                if max(rows, len(self.set_aside)) >= min(self.ctx.batch_rows, TYPING_ROWS):
                    typed()
                    parts, rows = [], 0
                    if len(typing) > 1:  # one part typed while the next is parsed
                        yield from typing.popleft().result()
            typed()
            while typing:
                yield from typing.popleft().result()
        if self.records.broken:
            after = max([self.next, *(n + 1 for n in self.skipped)])
            yield Batch(self.table, contract.INPUT_TABLES[self.table].schema.empty_table(),
                        [Rejected(self.ctx.source, after, self.table, "", "",
                                  f"file ends early (truncated): {self.records.broken}",
                                  stops=True)])

    def _numbers(self, count: int) -> np.ndarray:
        """The numbers of the next ``count`` rows: the records from :attr:`next` on, less
        those pyarrow set aside (their numbers are its own)."""
        skipped = np.array(sorted(self.skipped), np.int64)
        ordinal = self.next + np.arange(count, dtype=np.int64)
        keys = skipped - np.arange(len(skipped), dtype=np.int64)
        numbers = ordinal + np.searchsorted(keys, ordinal, side="right")
        if count:
            self.next = int(numbers[-1]) + 1
        self.skipped = [n for n in self.skipped if n >= self.next]
        return numbers

    def _typed(self, parts: list[tuple[pa.RecordBatch, np.ndarray]],
               set_aside: list[Rejected]) -> list[Batch]:  # fmt: skip
        """The rows of ``parts`` typed, :data:`TYPING_ROWS` at a time, each batch with the
        rows set aside up to its last line (in line order)."""
        schema = contract.INPUT_TABLES[self.table].schema
        raw = None
        if parts:
            raw = _as_text(pa.Table.from_batches([b for b, _n in parts]),
                           np.concatenate([n for _b, n in parts]))  # fmt: skip
            if self.records.markers:
                raw, marked = self._without_markers(raw)
                set_aside = set_aside + marked
        set_aside = sorted(set_aside, key=lambda r: r.line)
        if raw is None or not raw.num_rows:
            return [Batch(self.table, schema.empty_table(), set_aside[i:i + TYPING_ROWS])
                    for i in range(0, len(set_aside), TYPING_ROWS)]  # fmt: skip
        batches = []
        for start in range(0, raw.num_rows, TYPING_ROWS):
            part = raw.slice(start, TYPING_ROWS)
            last = start + TYPING_ROWS >= raw.num_rows
            upto = len(set_aside) if last else \
                bisect.bisect_right([r.line for r in set_aside], int(part["_line"][-1].as_py()))
            before, set_aside = set_aside[:upto], set_aside[upto:]
            part, not_text = _not_utf8(part, self.table, self.ctx.source, self.encoding.reason)
            batch = coerce(self.table, part, self.ctx.source, self.ctx.holder_country)
            rejected = sorted(before + not_text + batch.rejected, key=lambda r: r.line)
            # At most a part's worth of rows set aside a batch, as of rows.
            batches.append(Batch(self.table, batch.data, rejected[:TYPING_ROWS], batch.lines))
            batches += [Batch(self.table, schema.empty_table(), rejected[i:i + TYPING_ROWS])
                        for i in range(TYPING_ROWS, len(rejected), TYPING_ROWS)]  # fmt: skip
        return batches

    def _without_markers(self, raw: pa.Table) -> tuple[pa.Table, list[Rejected]]:
        """``raw`` without the marker rows; blank lines go at once, and the few other markers
        are set aside one by one."""
        first = raw.column(0).combine_chunks().cast(pa.string())
        marker = pc.fill_null(pc.starts_with(first, self.records.token), False)
        if not pc.any(marker).as_py():
            return raw, []
        raw = raw.filter(pc.invert(pc.equal(first, f"{self.records.token}b")))
        first = raw.column(0).combine_chunks().cast(pa.string())
        marker = pc.fill_null(pc.starts_with(first, self.records.token), False)
        lines = raw.column("_line").combine_chunks().filter(marker).to_pylist()
        marked = [self._marked(int(line), str(text))
                  for line, text in zip(lines, first.filter(marker).to_pylist(), strict=True)]
        return raw.filter(pc.invert(marker)), [r for r in marked if r is not None]


def _repeated(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _all_text(header: list[str]) -> pacsv.ConvertOptions:
    """Every column as text, empty cells as empty strings (the reader types them later).
    pyarrow does not check the text is UTF-8: :func:`_not_utf8` does, for less."""
    return pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                strings_can_be_null=False, quoted_strings_can_be_null=False,
                                check_utf8=False)  # fmt: skip


def _not_utf8(raw: pa.Table, table: str, source: str,
              reason: str = UTF8.reason) -> tuple[pa.Table, list[Rejected]]:  # fmt: skip
    """``raw`` without the rows whose text is not UTF-8, and those rows set aside (a file
    that starts as UTF-8 and changes encoding later; bytes a decoder could not read, made
    undecodable on purpose). Text that is all ASCII (one pass of numpy over its bytes) is
    UTF-8, and other text is validated by Arrow; in a column that fails, only the values
    holding a byte past ASCII are decoded one by one. pyarrow's own check of every value
    costs about a sixth of its parse, and would stop the reading at the first bad value."""
    bad = np.zeros(raw.num_rows, bool)
    found: list[tuple[int, str, str]] = []
    for name in raw.column_names:
        column = raw.column(name)
        if not pa.types.is_string(column.type) or _ascii(column):
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        octets = column.combine_chunks().cast(pa.binary())
        for row in _rows_past_ascii(octets):
            value = octets[row].as_py()
            if not _decodes(value):
                bad[row] = True
                found.append((int(row), name, value.decode("utf-8", "replace")[:80]))
    if not found:
        return raw, []
    lines = raw.column("_line").to_numpy()
    rejected = [Rejected(source, int(lines[row]), table, name, value, reason)
                for row, name, value in sorted(found)]  # fmt: skip
    return raw.filter(pa.array(~bad)), rejected


def _ascii(column: pa.ChunkedArray) -> bool:
    return all(chunk.buffers()[2] is None or chunk.buffers()[2].size == 0 or
               int(np.frombuffer(chunk.buffers()[2], np.uint8).max()) < 0x80
               for chunk in column.chunks)  # fmt: skip


def _rows_past_ascii(octets: pa.Array) -> np.ndarray:
    """The rows of a binary array whose value holds a byte of 0x80 or more (numpy over its
    data buffer: each such byte's row, by the offsets)."""
    offsets = np.frombuffer(octets.buffers()[1], np.int32)[octets.offset:octets.offset
                                                           + len(octets) + 1]  # fmt: skip
    data = np.frombuffer(octets.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    high = np.flatnonzero(data >= 0x80) + offsets[0]
    return np.unique(np.searchsorted(offsets, high, side="right") - 1)


def _decodes(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _as_text(table: pa.Table, numbers: np.ndarray) -> pa.Table:
    """Every column as text, and ``_line`` (each row's record number)."""
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us", tz="UTC"))
        columns[name] = column if column.type == pa.string() else column.cast(pa.string())
    columns["_line"] = pa.array(numbers, pa.int64())
    return pa.table(columns)


READER = ContractReader()
