"""The contract's own tables, as CSV (any common encoding, plain or gzip) or Parquet.

A file is recognised by its name (``carrier_cdr.csv``, ``transfers.parquet``,
``voip_cdr.csv.gz``) or, failing that, by a header holding a contract table's columns
(``--table`` settles it when two tables would fit). CSV is streamed in batches with pyarrow
(quoted newlines, CRLF and a byte-order mark are fine); text that is not UTF-8 is read as
GB18030 or Latin-1, whichever decodes it. A truncated gzip keeps the rows before the break and
sets the break aside as a rejected record.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scamtrace import contract
from scamtrace.ingest.base import TYPING_ROWS, Batch, IngestError, ReadContext, Rejected, coerce

ENCODINGS = ("utf-8-sig", "gb18030", "latin-1")


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
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _encoding(path: Path) -> str:
    with _open(path) as fh:
        try:
            head = fh.read(1 << 20)
        except (EOFError, OSError, zlib.error):
            head = b""
    for enc in ENCODINGS:
        try:
            # A cut in the middle of a multi-byte character at the sample's end is fine.
            codecs.getincrementaldecoder(enc)().decode(head, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    return "latin-1"


class _Utf8Stream(io.RawIOBase):
    """Bytes of any encoding re-encoded as UTF-8, streamed; remembers a truncation."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.buffer = b""
        self.broken: str | None = None
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        # Deliver whole lines only, so that a file cut short ends at its last whole line.
        while self.ready() < len(b) and not self.done:
            try:
                # read1: what one decompression step gives, so a cut loses only its last step
                chunk = self.raw.read1(1 << 16)  # type: ignore[attr-defined]
            except (EOFError, OSError, zlib.error) as exc:
                self.broken = str(exc) or type(exc).__name__
                cut = self.buffer.rfind(b"\n") + 1
                self.buffer, self.done = self.buffer[:cut], True
                break
            if not chunk:
                self.buffer += self.decoder.decode(b"", final=True).encode("utf-8")
                self.done = True
                break
            self.buffer += self.decoder.decode(chunk).encode("utf-8")
        n = min(len(b), self.ready())
        b[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        return n

    def ready(self) -> int:
        return len(self.buffer) if self.done else self.buffer.rfind(b"\n") + 1


class ContractReader:
    name = "contract"
    description = "the contract's tables as CSV (UTF-8, GB18030, Latin-1; .gz) or Parquet"

    def sniff(self, path: Path, head: bytes) -> bool:
        named = path.suffix == ".parquet" or path.name.endswith((".csv", ".csv.gz"))
        if named and table_for(path) is not None:
            return True
        first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
        return table_for(path, [c.strip().strip('"') for c in first.split(",")]) is not None

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        if path.suffix == ".parquet":
            yield from self._parquet(path, ctx)
        else:
            yield from self._csv(path, ctx)

    def _target(self, path: Path, header: list[str], ctx: ReadContext) -> str:
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
        first = 1
        for batch in pf.iter_batches(batch_size=ctx.batch_rows):
            yield coerce(table, _as_text(pa.Table.from_batches([batch]), first), ctx.source,
                         ctx.holder_country)  # fmt: skip
            first += batch.num_rows

    def _csv(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        encoding = _encoding(path)
        header = _header(path, encoding)
        stream = _Utf8Stream(_open(path), encoding)
        # Plain UTF-8 files go to pyarrow as they are (it skips a byte-order mark); others are
        # re-encoded on the way, and gzip is read step by step to survive a truncation.
        plain = encoding == "utf-8-sig" and path.suffix != ".gz"
        source: str | io.BufferedReader = str(path) if plain else \
            io.BufferedReader(stream, buffer_size=1 << 20)  # fmt: skip
        options = pacsv.ReadOptions(block_size=1 << 24)
        misshapen: list[Rejected] = []

        def set_aside(row: pacsv.InvalidRow) -> str:
            misshapen.append(Rejected(ctx.source, 0, "", "", row.text or "",
                                      f"expected {row.expected_columns} fields, got "
                                      f"{row.actual_columns}"))  # fmt: skip
            return "skip"

        parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=set_aside)
        try:
            reader = pacsv.open_csv(source, read_options=options, parse_options=parse,
                                    convert_options=_all_text(header))  # fmt: skip
        except pa.ArrowInvalid as exc:
            if stream.broken:
                raise IngestError(f"{path}: truncated before its first rows: {stream.broken}") \
                    from exc
            raise IngestError(f"{path}: not a readable CSV file: {exc}") from exc
        table = self._target(path, reader.schema.names, ctx)
        line = 2  # the header is line 1; lines count records (a quoted newline is inside one)
        pending: list[pa.RecordBatch] = []
        # Line numbers of rows set aside by typing are final only once the misshapen records
        # pyarrow skipped are placed (their numbers come last), so they are held back.
        held: list[Rejected] = []
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                # A malformed record stops pyarrow's reader: keep what came before it.
                yield from self._flush(table, pending, line, ctx, held, not misshapen)
                yield Batch(table, contract.INPUT_TABLES[table].schema.empty_table(), held)
                line += rows
                yield Batch(table, pa.Table.from_pylist([], contract.INPUT_TABLES[table].schema),
                            [Rejected(ctx.source, line, table, "", "", f"unreadable CSV: {exc}",
                                      stops=True)])  # fmt: skip
                return
            pending.append(batch)
            rows += batch.num_rows
            if rows >= min(ctx.batch_rows, TYPING_ROWS):
                yield from self._flush(table, pending, line, ctx, held, not misshapen)
                line += rows
                pending, rows = [], 0
        yield from self._flush(table, pending, line, ctx, held, not misshapen)
        line += rows
        lines = _find_lines(path, encoding, [r.value for r in misshapen]) if misshapen else []
        skipped = sorted(lines)
        shifted = [Rejected(r.source, _after_skips(r.line, skipped), r.table, r.field, r.value,
                            r.reason) for r in held]  # fmt: skip
        placed = [Rejected(r.source, n, table, r.field, r.value[:80], r.reason)
                  for r, n in zip(misshapen, lines, strict=True)]  # fmt: skip
        if shifted or placed:
            yield Batch(table, contract.INPUT_TABLES[table].schema.empty_table(),
                        sorted(shifted + placed, key=lambda r: r.line))
        if stream.broken:
            yield Batch(table, pa.Table.from_pylist([], contract.INPUT_TABLES[table].schema),
                        [Rejected(ctx.source, line, table, "", "",
                                  f"file ends early (truncated): {stream.broken}",
                                  stops=True)])  # fmt: skip

    def _flush(self, table: str, batches: list[pa.RecordBatch], line: int, ctx: ReadContext,
               held: list[Rejected], exact: bool) -> Iterator[Batch]:  # fmt: skip
        """``exact``: no record was skipped so far, so the line numbers are final: the rows
        set aside go out with the batch (memory holds a batch of them, not the file's), and
        only after a skipped record are they held back to be renumbered. One pyarrow block
        (16 MB) of short rows is millions of them: it is typed :data:`TYPING_ROWS` at a
        time."""
        whole = pa.Table.from_batches(batches) if batches else None
        for start in range(0, whole.num_rows if whole is not None else 0, TYPING_ROWS):
            assert whole is not None
            part = whole.slice(start, TYPING_ROWS)
            raw, not_utf8 = _not_utf8(_as_text(part, line + start), table, ctx.source)
            batch = coerce(table, raw, ctx.source, ctx.holder_country)
            aside = sorted(not_utf8 + batch.rejected, key=lambda r: r.line)
            if exact and not held:
                yield Batch(batch.table, batch.data, aside, batch.lines)
                continue
            held.extend(aside)
            yield Batch(batch.table, batch.data, [], None)


def _after_skips(provisional: int, skipped: list[int]) -> int:
    """A record's number counted over the records pyarrow kept, made a number over all
    records by stepping over the (sorted) numbers of those it skipped."""
    line = provisional
    for number in skipped:
        if number <= line:
            line += 1
    return line


def _find_lines(path: Path, encoding: str, texts: list[str]) -> list[int]:
    """Line numbers of the records pyarrow could not shape (it does not count lines when
    reading a stream): one more pass over the file, matching their text in order."""
    found: list[int] = []
    pending = iter(texts)
    wanted = next(pending, None)
    stream = io.TextIOWrapper(io.BufferedReader(_Utf8Stream(_open(path), encoding)),
                              encoding="utf-8", newline="")  # fmt: skip
    window: deque[str] = deque()
    for number, text in enumerate(stream, start=1):
        window.append(text)
        if wanted is None:
            break
        span = wanted.count("\n") + 1  # a record with quoted newlines spans lines
        while len(window) > span:
            window.popleft()
        if len(window) == span and "".join(window).rstrip("\r\n") == wanted:
            found.append(number - span + 1)
            wanted = next(pending, None)
            window.clear()
    return found + [0] * (len(texts) - len(found))


def _header(path: Path, encoding: str) -> list[str]:
    with _open(path) as fh:
        try:
            head = fh.read(1 << 16)
        except (EOFError, OSError, zlib.error):
            head = b""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    first = text.splitlines()[0] if text else ""
    return [c.strip().strip('"') for c in first.split(",")]


def _all_text(header: list[str]) -> pacsv.ConvertOptions:
    """Every column as text, empty cells as empty strings (the reader types them later).
    pyarrow does not check the text is UTF-8: :func:`_not_utf8` does, for less."""
    return pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                strings_can_be_null=False, quoted_strings_can_be_null=False,
                                check_utf8=False)  # fmt: skip


def _not_utf8(raw: pa.Table, table: str, source: str) -> tuple[pa.Table, list[Rejected]]:
    """``raw`` without the rows whose text is not UTF-8, and those rows set aside (a file
    that starts as UTF-8 and changes encoding later). Text that is all ASCII (one pass of
    numpy over its bytes) is UTF-8, and other text is validated by Arrow; in a column that
    fails, only the values holding a byte past ASCII are decoded one by one. pyarrow's own
    check of every value costs about a sixth of its parse, and would stop the reading at the
    first bad value."""
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
    rejected = [Rejected(source, int(lines[row]), table, name, value,
                         "not UTF-8 text (the file starts as UTF-8)")
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


def _as_text(table: pa.Table, first_line: int) -> pa.Table:
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us", tz="UTC"))
        columns[name] = column if column.type == pa.string() else column.cast(pa.string())
    columns["_line"] = pa.array(np.arange(first_line, first_line + len(table), dtype=np.int64))
    return pa.table(columns)


READER = ContractReader()
