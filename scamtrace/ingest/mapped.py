"""Any CSV export through a small YAML mapping file, in the spirit of ``ftm map-csv``.

A carrier whose export says ``A_NUM;B_NUM;SEIZURE_TS`` ingests without code: a mapping file
names the contract table and says which source column feeds each contract column. It is used
only when asked for (``scamtrace ingest export.csv --format mapped --mapping carrier.yaml``;
the path arrives as ``ctx.options["mapping"]``); :meth:`MappedCsvReader.sniff` never claims a
file.

Mapping file
------------
::

    table: carrier_cdr                # a contract input table (CONTRACT.md)
    columns:                          # contract column -> source column
      call_id: CDR_ID
      start_time: SEIZURE_TS
      caller_number: A_NUM
      called_number: B_NUM
      duration_s: DUR
      answered: ANS
      ingress_trunk: {join: [TRUNK_GROUP, TRUNK_NAME], sep: " "}   # several columns joined
    constants:                        # contract column -> fixed value for every row
      ingress_country: CN
    values:                           # per contract column: source value -> contract value
      answered: {Y: "true", N: "false"}
    time_format: "%d/%m/%Y %H:%M:%S"  # optional strptime format of the table's times
    timezone: "+08:00"                # optional: IANA name or ±HH:MM for times without offset
    phone_country: CN                 # optional: country of national numbers
    delimiter: ";"                    # default ","  (also "tab")
    encoding: gb18030                 # default utf-8 (utf-8-sig, gb18030, latin-1, cp1252...)
    skip_rows: 0                      # lines before the header (or the first row); default 0
    header: true                      # default true; if false, columns are "1", "2"... by position
    quote: '"'                        # default '"' (a doubled quote inside quotes is a quote)
    date_format: "%d/%m/%Y"           # optional strptime format of date columns (opened_on)

- ``table`` is required; ``columns`` and ``constants`` together must give every column the
  table cannot do without (``call_id``, ``start_time`` and ``called_number`` for
  ``carrier_cdr``...); a contract column comes from ``columns`` or ``constants``, not both.
  Contract columns the mapping does not name are left empty.
- Source columns are named as in the header (exactly, or else case-insensitively when that is
  unambiguous), or by 1-based position (``"3"``) with ``header: false``. A source column the
  file does not have is an :class:`~scamtrace.ingest.base.IngestError` naming the mapping and
  the column.
- ``values`` rewrites whole cell values (compared after trimming spaces); values it does not
  list pass unchanged, so an unexpected ``X`` in a Y/N column is set aside by the typing step.
- Every scalar in the file is read as text (``Y``, ``no``, ``200`` are not turned into booleans
  or numbers), so ``values: {sip_status: {ANS: 200}}`` and ``{Y: true}`` mean what they say.
- Times: with ``time_format`` each time is parsed with it (DuckDB ``strptime``, the usual
  ``%Y %m %d %H %M %S %f %z`` codes); a time that does not fit is set aside naming the format.
  Without it times must be ISO 8601. A time without an offset is in ``timezone``, else in the
  ``timezone`` reader option (``--timezone``), else UTC; every time reaches the typing step as
  ISO 8601 text with an offset.
- National phone numbers belong to ``phone_country``, else to the holder's country.

Errors in the mapping are :class:`IngestError` naming the mapping file and the field
(``carrier.yaml: columns.start_time: ...``).

How a file is read (shared with :mod:`scamtrace.ingest.amlsim`): DuckDB ``read_csv`` with every
column as text and the given delimiter; encodings DuckDB does not read itself (GB18030...) are
first transcoded to UTF-8 in a stream. Rows DuckDB cannot shape (wrong number of fields, a stray
quote, bytes that are not text in the encoding) are set aside with their line. Lines count
records, as the contract reader does: the header (after ``skip_rows``) is line
``skip_rows + 1``; an empty line counts as a line; a newline inside quotes does not.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scamtrace.core import contract
from scamtrace.core.errors import ScamtraceError
from scamtrace.core.phones import dial_plan
from scamtrace.core.sql import literal
from scamtrace.ingest import base as ingest_base
from scamtrace.ingest.base import (
    Batch,
    IngestError,
    ReadContext,
    Rejected,
    coerce,
    text_table,
)

# --------------------------------------------------------------------------- reading CSV


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written."""

    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    skip_rows: int = 0
    header: bool = True


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise IngestError(f"unknown encoding {encoding!r}") from exc


class LoadedCsv:
    """A CSV file loaded into DuckDB as the text table ``src`` (columns ``c0``, ``c1``...,
    one row per record DuckDB could shape; ``rowid`` in file order), with the records it set
    aside and what is needed to give every row its line."""

    def __init__(self, path: Path, names: list[str], first_line: int,
                 rejected: Callable[[], Iterator[list[Rejected]]], skipped: np.ndarray,
                 repeated: frozenset[str] = frozenset()) -> None:  # fmt: skip
        self.path = path
        self.names = names
        self.repeated = repeated  # header names (case-folded) given to several columns
        self.first_line = first_line
        #: the records DuckDB set aside, a part at a time (never all at once)
        self.rejected = rejected
        # Rows are the records from first_line on, less the empty and the rejected ones: row k
        # (its rowid) is record first_line + k + (how many of those were skipped before it).
        offsets = np.unique(skipped[skipped >= first_line]) - first_line
        self._keys = offsets - np.arange(len(offsets), dtype=np.int64)

    def column(self, name: str) -> str | None:
        """The DuckDB column holding source column ``name`` (a header name, or a 1-based
        position for a file without header); None when the file has no such column. A name
        the header gives several columns is an :class:`IngestError` (which one is meant?)."""
        if name.strip().casefold() in self.repeated:
            raise IngestError(f"{self.path}: the header names column {name.strip()!r} more "
                              "than once; which one to read cannot be told (rename one)")
        if name in self.names:
            return f"c{self.names.index(name)}"
        folded = [i for i, n in enumerate(self.names) if n.casefold() == name.strip().casefold()]
        return f"c{folded[0]}" if len(folded) == 1 else None

    def lines(self, rowids: pa.Array | pa.ChunkedArray) -> pa.Array:
        k = np.asarray(rowids.to_numpy(), dtype=np.int64)
        return pa.array(self.first_line + k + np.searchsorted(self._keys, k, side="right"),
                        pa.int64())  # fmt: skip


def load_csv(
    db: duckdb.DuckDBPyConnection,
    path: Path,
    layout: CsvLayout,
    workdir: Path,
    *,
    source: str,
    table: str,
) -> LoadedCsv:
    """Load ``path`` into ``db`` as the text table ``src``; see :class:`LoadedCsv`."""
    codec = _codec(layout.encoding)
    data, duck_encoding = path, "utf-8"
    if codec == "iso8859-1":
        duck_encoding = "latin-1"
    elif codec not in ("utf-8", "utf-8-sig"):
        data = workdir / "transcoded.csv"
        _transcode(path, codec, data)
    text_codec = "utf-8-sig" if duck_encoding == "utf-8" else codec
    found = _names(data, layout, text_codec)
    names, repeated = found if found is not None else (None, frozenset[str]())
    if names is None:
        if layout.header:
            raise IngestError(f"{path}: no header line (after {layout.skip_rows} skipped)")
        names = []
    first_line = layout.skip_rows + (2 if layout.header else 1)
    if not names:
        db.execute("CREATE OR REPLACE TEMP TABLE src (c0 VARCHAR)").fetchall()
        return LoadedCsv(path, [], first_line, lambda: iter(()), np.zeros(0, np.int64))
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names)))
    q = literal(layout.quote)
    db.execute(f"SET temp_directory = {literal(str(workdir / 'duckdb'))}").fetchall()
    try:
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE src AS SELECT * FROM read_csv({literal(str(data))}, "
            f"delim = {literal(layout.delimiter)}, quote = {q}, escape = {q}, "
            f"header = {str(layout.header).lower()}, skip = {layout.skip_rows}, "
            f"auto_detect = false, columns = {{{columns}}}, encoding = '{duck_encoding}', "
            "store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_scans', "
            f"max_line_size = {ingest_base.MAX_RECORD_BYTES})"
        ).fetchall()  # fmt: skip
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable CSV file: {str(exc).splitlines()[0]}") \
            from exc  # fmt: skip
    # Kept as Arrow columns (a few bytes a record) and made Rejected rows a part at a time.
    rows = db.sql(r"""
        SELECT line, min(error_type::VARCHAR) AS kind, any_value(csv_line) AS text,
               any_value(column_name) AS col,
               max(TRY_CAST(regexp_extract(error_message, 'Expected Number of Columns: (\d+)', 1)
                            AS BIGINT)) AS expected,
               min(TRY_CAST(regexp_extract(error_message, 'Found: (\d+)', 1) AS BIGINT)) AS few,
               max(TRY_CAST(regexp_extract(error_message, 'Found: (\d+)', 1) AS BIGINT)) AS most,
               any_value(error_message) AS message
        FROM csv_rejects GROUP BY line ORDER BY line
    """).to_arrow_table()  # fmt: skip
    rows = rows.set_column(2, "text", pc.utf8_slice_codeunits(
        pc.utf8_ltrim(pc.fill_null(rows.column("text"), ""), "\r\n"), 0, 80))

    def rejected() -> Iterator[list[Rejected]]:
        # DuckDB reports a short row once per missing field and a long one once per extra
        # field.
        for start in range(0, rows.num_rows, ingest_base.TYPING_ROWS):
            part = rows.slice(start, ingest_base.TYPING_ROWS).to_pylist()
            yield [Rejected(source, int(r["line"]), table,
                            _source_name(names, r["col"]) if r["kind"] == "INVALID ENCODING"
                            else "", r["text"],
                            _reason(r["kind"], r["expected"],
                                    r["few"] if r["kind"] == "MISSING COLUMNS" else r["most"],
                                    r["message"], layout.encoding))
                   for r in part]  # fmt: skip

    blank = _empty_records(data, layout.quote)
    lines = np.asarray(rows.column("line").to_numpy(zero_copy_only=False), np.int64)
    skipped = np.concatenate([blank, lines])
    return LoadedCsv(path, names, first_line, rejected, skipped, repeated)


def _source_name(names: list[str], column: str | None) -> str:
    if column and column.startswith("c") and column[1:].isdigit() and int(column[1:]) < \
            len(names):  # fmt: skip
        return names[int(column[1:])]
    return ""


def _reason(kind: str, expected: int | None, found: int | None, message: str | None,
            encoding: str) -> str:  # fmt: skip
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        return f"expected {expected} fields, got {found}" if expected and found is not None \
            else "wrong number of fields"  # fmt: skip
    if kind == "INVALID ENCODING":
        return f"not {encoding} text"
    if kind == "UNQUOTED VALUE":
        return "unterminated or stray quote"
    if kind == "LINE SIZE OVER MAXIMUM":
        return f"line longer than {ingest_base.MAX_RECORD_BYTES} bytes"
    return (message or kind).splitlines()[0]


def _transcode(path: Path, codec: str, out: Path) -> None:
    """``path`` re-encoded as UTF-8, in a stream. Bytes that are not text in ``codec`` are
    written as they are, so that DuckDB sets their row aside as not being text."""
    decoder = codecs.getincrementaldecoder(codec)(errors="surrogateescape")
    with path.open("rb") as src, out.open("wb") as dst:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            dst.write(decoder.decode(chunk).encode("utf-8", errors="surrogateescape"))
        dst.write(decoder.decode(b"", final=True).encode("utf-8", errors="surrogateescape"))


def _names(data: Path, layout: CsvLayout, codec: str
           ) -> tuple[list[str], frozenset[str]] | None:  # fmt: skip
    """The header's names (made unique: ``x``, ``x_2``) and those it repeats (case-folded),
    or "1", "2"... by position for a file without header (as many as most of its first
    records have); None when there is no record at all."""
    with data.open("rb") as fh:
        head = fh.read(1 << 20)
    text = codecs.getincrementaldecoder(codec)(errors="replace").decode(head)
    lines = io.StringIO(text, newline="")
    for _ in range(layout.skip_rows):
        lines.readline()
    reader = csv.reader(lines, delimiter=layout.delimiter, quotechar=layout.quote,
                        doublequote=True, strict=False)  # fmt: skip
    records: list[list[str]] = []
    try:
        for record in reader:
            if record:
                records.append(record)
            if len(records) >= (1 if layout.header else 100):
                break
    except csv.Error:
        pass
    if not records:
        return None
    if not layout.header:
        width = Counter(len(r) for r in records).most_common(1)[0][0]
        return [str(i + 1) for i in range(width)], frozenset()
    names: list[str] = []
    seen: set[str] = set()
    repeated: set[str] = set()
    for i, raw in enumerate(records[0]):
        name = raw.strip() or f"column{i + 1}"
        base, n = name, 1
        while name.casefold() in seen:
            repeated.add(base.casefold())
            n += 1
            name = f"{base}_{n}"
        seen.add(name.casefold())
        names.append(name)
    return names, frozenset(repeated)


def _empty_records(path: Path, quote: str, chunk: int = 1 << 24) -> np.ndarray:
    """Line numbers (as DuckDB counts them: a newline inside quotes does not end a line) of
    the empty lines of ``path``, which DuckDB skips without a word. Vectorised, in chunks."""
    q = ord(quote) if len(quote.encode()) == 1 else -1
    found: list[np.ndarray] = []
    base, ended, last_end, inside, last_byte = 0, 0, -1, 0, -1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            arr = np.frombuffer(block, np.uint8)
            newlines = np.flatnonzero(arr == 10)
            quotes = np.flatnonzero(arr == q) if q >= 0 else np.zeros(0, np.int64)
            parity = (inside + np.searchsorted(quotes, newlines)) & 1
            ends = newlines[parity == 0]
            if len(ends):
                starts = np.concatenate([[last_end + 1 - base], ends[:-1] + 1])
                length = ends - starts
                before = np.where(ends > 0, arr[np.maximum(ends - 1, 0)], last_byte)
                empty = (length == 0) | ((length == 1) & (before == 13))
                found.append(ended + 1 + np.flatnonzero(empty))
                ended += len(ends)
                last_end = base + int(ends[-1])
            inside = (inside + len(quotes)) & 1
            base += len(arr)
            last_byte = int(arr[-1]) if len(arr) else last_byte
    return np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)


def connection(workdir: Path) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'").fetchall()
    db.execute(f"SET temp_directory = {literal(str(workdir / 'duckdb'))}").fetchall()
    return db


def stream(
    db: duckdb.DuckDBPyConnection,
    sql: str,
    loaded: LoadedCsv,
    table: str,
    ctx: ReadContext,
    country: str,
    plain_amounts: Collection[str] = (),
) -> Iterator[Batch]:
    """Run ``sql`` (over ``src``; it selects ``_rowid`` and the text columns named after the
    contract's, and may select ``_bad_field``, ``_bad_value``, ``_bad_reason`` for rows the
    reader itself sets aside) and type its rows batch by batch; then the unshaped records.
    ``plain_amounts``: see :func:`~scamtrace.ingest.base.coerce`."""
    names = [c.name for c in contract.INPUT_TABLES[table].columns]
    reader = db.sql(sql).to_arrow_reader(max(1, ctx.batch_rows))
    for record_batch in reader:
        got = pa.Table.from_batches([record_batch])
        if not got.num_rows:
            continue
        lines = loaded.lines(got["_rowid"])
        own: list[Rejected] = []
        if "_bad_field" in got.column_names:
            bad = pc.is_valid(got["_bad_field"])
            bad_lines = lines.filter(bad).to_pylist()
            bad_rows = got.filter(bad).select(["_bad_field", "_bad_value", "_bad_reason"])
            own = [Rejected(ctx.source, int(line), table, r["_bad_field"],
                            (r["_bad_value"] or "")[:80], r["_bad_reason"])
                   for line, r in zip(bad_lines, bad_rows.to_pylist(), strict=True)]  # fmt: skip
            keep = pc.invert(bad)
            got, lines = got.filter(keep), lines.filter(keep)
        raw = text_table({n: got[n].combine_chunks() for n in names if n in got.column_names},
                         lines)  # fmt: skip
        batch = coerce(table, raw, ctx.source, country, plain_amounts=plain_amounts)
        if own:
            batch.rejected = sorted([*own, *batch.rejected], key=lambda r: r.line)
        yield batch
    for part in loaded.rejected():
        yield Batch(table, contract.INPUT_TABLES[table].schema.empty_table(), part)


# --------------------------------------------------------------------------- the mapping


class Join(BaseModel):
    """Several source columns joined into one value."""

    model_config = ConfigDict(extra="forbid")

    join: list[str] = Field(min_length=1)
    sep: str = " "


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def check_zone(value: str) -> str:
    """``value`` if it is an IANA time zone DuckDB knows or a ±HH:MM offset."""
    value = value.strip()
    if _OFFSET.match(value):
        return value
    try:
        duckdb.sql(f"SELECT timezone({literal(value)}, TIMESTAMP '2000-01-01')").fetchall()
    except duckdb.Error as exc:
        raise ValueError(f"{value!r} is neither an IANA time zone nor ±HH:MM") from exc
    return value


class MappingFile(BaseModel):
    """A mapping file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    table: str
    columns: dict[str, str | Join] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    time_format: str | None = None
    date_format: str | None = None
    timezone: str | None = None
    phone_country: str | None = None
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    skip_rows: int = Field(default=0, ge=0)
    header: bool = True

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if value not in contract.INPUT_TABLES:
            raise ValueError(f"{value!r} is not a contract table "
                             f"({', '.join(contract.INPUT_TABLES)})")  # fmt: skip
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        value = {"tab": "\t", "\\t": "\t"}.get(value, value)
        if len(value) != 1 or value in "\r\n":
            raise ValueError(f"expected one character, got {value!r}")
        return value

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError(f"expected one character, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @field_validator("time_format", "date_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "%" not in value:
            raise ValueError(f"{value!r} is not a strptime format (no % code)")
        try:
            duckdb.sql(f"SELECT try_strptime('', {literal(value)})").fetchall()
        except duckdb.Error as exc:
            raise ValueError(f"{value!r}: {str(exc).splitlines()[0]}") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @field_validator("phone_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            dial_plan(value)
        except ScamtraceError as exc:
            raise ValueError(str(exc)) from exc
        return value.upper()

    @model_validator(mode="after")
    def _columns(self) -> MappingFile:
        known = contract.INPUT_TABLES[self.table].column_names
        for field in ("columns", "constants", "values"):
            for name in getattr(self, field):
                if name not in known:
                    raise ValueError(f"{field}.{name}: {self.table} has no column {name!r} "
                                     f"({', '.join(known)})")  # fmt: skip
        for name in self.columns:
            if name in self.constants:
                raise ValueError(f"columns.{name}: also given in constants; say one")
        lacking = [n for n in contract.INPUT_TABLES[self.table].required if n not in self.columns
                   and n not in self.constants]  # fmt: skip
        if lacking:
            raise ValueError(f"columns: {self.table} needs {', '.join(lacking)}")
        if not self.header:
            for name, ref in self.columns.items():
                for col in ref.join if isinstance(ref, Join) else [ref]:
                    if not col.strip().isdigit() or int(col) < 1:
                        raise ValueError(f"columns.{name}: without a header, columns are "
                                         f"1-based positions like \"3\", got {col!r}")  # fmt: skip
        return self


def load_mapping(path: Path) -> MappingFile:
    """Read and check a mapping file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the mapping file: {exc.strerror or exc}") from exc
    try:
        # BaseLoader: every scalar stays text (Y, no, 200), the mapping says what they become.
        raw: Any = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}: " if where is not None else ""
        raise IngestError(f"{path}: {line}not valid YAML: {getattr(exc, 'problem', exc)}") \
            from exc  # fmt: skip
    if not isinstance(raw, dict):
        raise IngestError(f"{path}: expected a mapping with table: and columns:")
    try:
        return MappingFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if not _is_type_tag(p))
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {message}" if loc else message)
        raise IngestError(f"{path}: {'; '.join(dict.fromkeys(problems))}") from exc


def _is_type_tag(part: int | str) -> bool:
    # pydantic names the branch of a union it tried ("str", "Join"); the user never wrote it.
    return part in ("str", "Join")


# --------------------------------------------------------------------------- the reader


class MappedCsvReader:
    name = "mapped"
    description = "any CSV through a YAML mapping file (--mapping): columns, formats, values"

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        where = ctx.options.get("mapping")
        if not where:
            raise IngestError(f"{path}: the mapped format needs a mapping file (--mapping)")
        mapping = load_mapping(Path(where))
        yield from read_mapped(path, mapping, ctx, mapping_name=str(where))


def read_mapped(path: Path, mapping: MappingFile, ctx: ReadContext, *,
                mapping_name: str = "mapping") -> Iterator[Batch]:  # fmt: skip
    """Batches of ``mapping.table`` from ``path``."""
    layout = CsvLayout(mapping.delimiter, mapping.quote, mapping.encoding, mapping.skip_rows,
                       mapping.header)  # fmt: skip
    zone = mapping.timezone or _option_zone(ctx.options)
    with tempfile.TemporaryDirectory(prefix="scamtrace-mapped-") as tmp:
        db = connection(Path(tmp))
        loaded = load_csv(db, path, layout, Path(tmp), source=ctx.source, table=mapping.table)
        if not loaded.names:
            for part in loaded.rejected():
                yield Batch(mapping.table, contract.INPUT_TABLES[mapping.table].schema
                            .empty_table(), part)  # fmt: skip
            return
        sql = _mapping_sql(mapping, loaded, zone, mapping_name)
        yield from stream(db, sql, loaded, mapping.table, ctx,
                          mapping.phone_country or ctx.holder_country)  # fmt: skip


def _option_zone(options: Mapping[str, Any]) -> str | None:
    zone = options.get("timezone")
    if not zone:
        return None
    try:
        return check_zone(str(zone))
    except ValueError as exc:
        raise IngestError(f"--timezone: {exc}") from exc


def _mapping_sql(mapping: MappingFile, loaded: LoadedCsv, zone: str | None,
                 mapping_name: str) -> str:  # fmt: skip
    table = contract.INPUT_TABLES[mapping.table]
    selects = ["rowid AS _rowid"]
    checks: list[tuple[str, str, str, str]] = []  # (bad when, field, value, reason)
    for col in table.columns:
        if col.name in mapping.constants:
            text = literal(mapping.constants[col.name])
        elif col.name in mapping.columns:
            text = _source_sql(mapping.columns[col.name], col.name, loaded, mapping_name)
        else:
            continue
        if col.name in mapping.values:
            cases = " ".join(f"WHEN {literal(k.strip())} THEN {literal(v)}"
                             for k, v in mapping.values[col.name].items())  # fmt: skip
            text = f"(CASE trim({text}) {cases} ELSE {text} END)" if cases else text
        value = text
        if col.kind == "time":
            value, bad, reason = _time_sql(text, mapping.time_format, zone)
            if bad:
                checks.append((bad, col.name, text, reason))
        elif col.kind == "date" and mapping.date_format:
            fmt = literal(mapping.date_format)
            parsed = f"TRY_CAST(try_strptime(trim({text}), {fmt}) AS DATE)"
            value = f"strftime({parsed}, '%Y-%m-%d')"
            checks.append((f"nullif(trim({text}), '') IS NOT NULL AND {parsed} IS NULL", col.name,
                           text, f"not a date in the format {mapping.date_format}"))  # fmt: skip
        selects.append(f'{value} AS "{col.name}"')
    if checks:
        for part, pick in (("field", 1), ("value", 2), ("reason", 3)):
            whens = " ".join(f"WHEN {c[0]} THEN {c[pick] if pick == 2 else literal(c[pick])}"
                             for c in checks)  # fmt: skip
            selects.append(f"CASE {whens} END AS _bad_{part}")
    return f"SELECT {', '.join(selects)} FROM src"


def _source_sql(ref: str | Join, name: str, loaded: LoadedCsv, mapping_name: str) -> str:
    parts = []
    for col in ref.join if isinstance(ref, Join) else [ref]:
        found = loaded.column(col.strip())
        if found is None:
            numbered = loaded.names == [str(i + 1) for i in range(len(loaded.names))]
            have = ", ".join(loaded.names) if len(loaded.names) <= 40 and not numbered else \
                f"{len(loaded.names)} columns"  # fmt: skip
            raise IngestError(f"{mapping_name}: columns.{name}: {loaded.path} has no column "
                              f"{col!r} (it has {have})")  # fmt: skip
        parts.append(found)
    if isinstance(ref, Join):
        return f"concat_ws({literal(ref.sep)}, {', '.join(parts)})"
    return parts[0]


def _time_sql(text: str, time_format: str | None, zone: str | None) -> tuple[str, str | None, str]:
    """(ISO 8601 text with offset, SQL true when the time is set aside here, the reason)."""
    trimmed = f"nullif(trim({text}), '')"

    def iso(ts: str) -> str:  # a TIMESTAMPTZ as ISO text in UTC (the session's zone)
        return f"strftime({ts}, '%Y-%m-%dT%H:%M:%S.%f') || '+00:00'"

    if time_format:
        parsed = f"try_strptime({trimmed}, {literal(time_format)})"
        with_offset = "%z" in time_format or "%Z" in time_format
        ts = parsed if with_offset else _local(parsed, zone)
        return iso(ts), f"{trimmed} IS NOT NULL AND {parsed} IS NULL", \
            f"not a time in the format {time_format}"  # fmt: skip
    if not zone:
        return text, None, ""
    has_offset = rf"regexp_matches({trimmed}, '(Z|z|[+-]\d\d(:?\d\d)?)$')"
    naive = f"TRY_CAST({trimmed} AS TIMESTAMP)"
    value = (f"CASE WHEN {has_offset} OR {naive} IS NULL THEN {text} "
             f"ELSE {iso(_local(naive, zone))} END")  # fmt: skip
    return value, None, ""


def _local(ts: str, zone: str | None) -> str:
    """A naive TIMESTAMP read as local time in ``zone`` (UTC when None), as TIMESTAMPTZ."""
    if not zone:
        return f"CAST({ts} AS TIMESTAMPTZ)"
    offset = _OFFSET.match(zone)
    if offset:
        sign, hours, minutes = offset.groups()
        total = (int(hours) * 60 + int(minutes)) * (1 if sign == "+" else -1)
        return f"CAST({ts} - to_minutes({total}) AS TIMESTAMPTZ)"
    return f"timezone({literal(zone)}, {ts})"


READER = MappedCsvReader()
