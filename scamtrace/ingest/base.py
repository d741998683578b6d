"""What every ingest format shares: the reader protocol, batches, rejected rows, and the one
place where text becomes the contract's types.

A reader turns one source file into batches of *text* columns named after a contract table's
columns (whatever the source called them), each row with the line or record number it came
from. :func:`coerce` then types them the same way for every format (times to UTC, phones to
E.164 in the holder's country, amounts to exact decimals) and sets aside, with file, line,
field and reason, every row it cannot read. Readers never drop a row silently.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.core import amounts, contract, values
from scamtrace.core.errors import ScamtraceError
from scamtrace.core.phones import e164_sql, international_user_parts, phone_columns
from scamtrace.core.sql import literal

#: Columns that identify a row, for appending without duplicates.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "carrier_cdr": ("call_id",),
    "voip_cdr": ("call_id",),
    "accounts": ("account_id",),
    "transfers": ("tx_id",),
    "reports": ("report_id",),
    "transcripts": ("call_id", "source"),
}

REJECTED_COLUMNS = ("source", "line", "table", "field", "value", "reason")

#: Rows typed at a time (:func:`coerce`), whatever the batch size. Each kernel then works on
#: some tens of MB, which the memory allocator reuses from part to part; parts of half a
#: million rows cost about a third more CPU time (1 M Asterisk lines, measured with
#: benchmarks/ingest_asterisk.py).
TYPING_ROWS = 100_000


#: The longest record (a CSV record, a line of ``Master.csv``, a JSON document) any reader
#: takes, in bytes: a longer one is set aside by its line, and the reader goes on after it,
#: holding no more than this much of it in memory. DuckDB's ``max_line_size`` (mapped CSV,
#: AMLSim) is the same.
MAX_RECORD_BYTES = 16 << 20


class IngestError(ScamtraceError):
    """A source that cannot be ingested at all (unknown format, unreadable file)."""


class StoppedEarly(IngestError):
    """A reader that could not read its source to the end, raised after the batches it could
    read: they are not the whole source, which must not be recorded as ingested."""


@dataclass(frozen=True)
class Rejected:
    source: str
    line: int
    table: str
    field: str
    value: str
    reason: str
    #: The reader read nothing past this record (a truncation, a record it cannot parse
    #: past): the source was read only in part, so it is never recorded as ingested.
    stops: bool = False


@dataclass
class Batch:
    """Rows for one contract table, in its Arrow schema, and the rows set aside."""

    table: str
    data: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    #: The source line (or record) of each row of ``data`` where the reader knows it exactly,
    #: else None. :func:`coerce` sets the ``_line`` it was given: a reader that numbers rows
    #: otherwise for it must map these back or drop them.
    lines: pa.Array | None = None


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs besides the file: the holder's country for national numbers and
    local times, the batch size, and format options (a mapping file's content, say)."""

    holder_country: str
    source: str
    batch_rows: int = 500_000
    options: Mapping[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    """One source format."""

    name: str
    description: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether ``path`` (its first bytes in ``head``) looks like this format."""
        ...

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        """Batches of rows; bad rows go to each batch's ``rejected``."""
        ...


def text_table(
    columns: Mapping[str, list[Any] | pa.Array], lines: list[int] | pa.Array
) -> pa.Table:
    """A table of text columns plus ``_line``, the shape :func:`coerce` takes."""
    data = {name: pa.array(cells, pa.string()) if not isinstance(cells, pa.Array)
            else cells.cast(pa.string()) for name, cells in columns.items()}  # fmt: skip
    data["_line"] = pa.array(lines, pa.int64()) if not isinstance(lines, pa.Array) else \
        lines.cast(pa.int64())  # fmt: skip
    return pa.table(data)


def _column_sql(col: contract.Column, country: str) -> tuple[str, values.Checks]:
    """(typed value, the checks of a non-empty value, in order). A check's SQL reads the
    typed value as ``"_typed_<name>"``; a decimal column's value and reason come from
    :func:`scamtrace.core.amounts.parse_amounts` as ``"_dec_<name>"`` and
    ``"_decwhy_<name>"``; a flag's is read from ``"_low_<name>"`` (made once, see
    :func:`coerce`). Times, dates, whole numbers and flags follow
    :func:`scamtrace.core.values.typed_sql`."""
    text = f"nullif(trim(\"{col.name}\"), '')"
    typed = f'"_typed_{col.name}"'
    if col.kind in values.SQL_TYPED:
        return values.typed_sql(col, text, typed, f'"_low_{col.name}"')
    if col.kind == "decimal":
        # Decimal all the way ('1234.56' never passes through a float), read by Arrow kernels.
        why = f'"_decwhy_{col.name}"'
        return f'"_dec_{col.name}"', [(f"{why} = {literal(r)}", r) for r in amounts.REASONS]
    if col.kind == "phone":
        number = f'"_e164_{col.name}"'
        # Normalised to E.164 where it can be; kept as logged where it cannot (the contract
        # allows any of the holder's formats), and empty when withheld.
        value = (f"CASE WHEN \"_withheld_{col.name}\" THEN '' WHEN {number} IS NOT NULL "
                 f"THEN '+' || {number} ELSE coalesce(trim(\"{col.name}\"), '') END")  # fmt: skip
        # Unreadable numbers are kept, except where the number is what the row is about.
        return value, [(f"{number} IS NULL", "not a phone number")]
    if col.kind == "phone_list":
        each = e164_sql("trim(x)", country)
        items = f"string_split(coalesce(\"{col.name}\", ''), ';')"
        value = (f"array_to_string(list_filter(list_transform({items}, "
                 f"lambda x: coalesce({each}, trim(x))), lambda x: x <> ''), ';')")  # fmt: skip
        return value, []
    return f"coalesce(\"{col.name}\", '')", []


def _lowered(col: contract.Column) -> str:
    """``"_low_<name>"``, the text a flag is read from (:func:`_column_sql`), made once."""
    return values.lowered_sql('"' + col.name + '"') + f' AS "_low_{col.name}"'


def _with_phone_columns(raw: pa.Table, phones: list[contract.Column], country: str,
                        sip_user_parts: bool) -> pa.Table:  # fmt: skip
    """``raw`` with ``_withheld_<col>`` and ``_e164_<col>`` (E.164 digits, or null) for each
    phone column, made by Arrow kernels over the whole column."""
    for col in phones:
        text = raw.column(col.name).combine_chunks()
        withheld, digits, number = phone_columns(text, country)
        if sip_user_parts:
            international = international_user_parts(text, country)
            number = pc.if_else(international, digits, number)
        raw = raw.append_column(f"_withheld_{col.name}", withheld)
        raw = raw.append_column(f"_e164_{col.name}", number)
    return raw


def _connection() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'").fetchall()
    return db


def coerce(table_name: str, raw: pa.Table, source: str, country: str, *,
           plain_amounts: Collection[str] = ()) -> Batch:  # fmt: skip
    """Type ``raw`` (text columns named after the contract's, plus ``_line``) into the contract
    table ``table_name``; rows with an unreadable or missing required field are set aside.

    In a SIP-side table (``contract.SIP_TABLES``) the phone columns are SIP user parts, where
    a switch may log an international number as its digits without ``+``
    (``8613800138000``); such a value is read as international when it is a valid number so
    and not a valid national number of ``country``
    (:func:`scamtrace.core.phones.international_user_parts`), whichever reader read it.

    ``plain_amounts``: decimal columns whose text a machine wrote (``xs:decimal``, a typed
    Parquet column): a ``.`` is a decimal point there, never a thousands separator
    (:func:`scamtrace.core.amounts.parse_amounts`).

    Vectorised throughout: Arrow kernels finish the text and phone columns, one DuckDB query
    types the others; cheap tests flag the rows that may be bad, and only those go through
    every check (:func:`_judge`) to name their first problem. No Python runs per row kept."""
    table = contract.INPUT_TABLES[table_name]
    missing = [c.name for c in table.columns if c.name not in raw.column_names and c.required]
    if missing:
        raise IngestError(f"{source}: no column for {table_name}.{missing[0]}")
    for col in table.columns:
        if col.name not in raw.column_names:
            raw = raw.append_column(col.name, pa.nulls(len(raw), pa.string()))
    phones = [c for c in table.columns if c.kind == "phone"]
    raw = _with_phone_columns(raw, phones, country, table_name in contract.SIP_TABLES)
    required = table.required
    n = len(raw)
    # Text and phone columns are finished by Arrow kernels; only the columns that DuckDB
    # types (times, numbers, flags) travel through it, so no text is copied there and back.
    columns: dict[str, pa.Array] = {}
    suspect = pa.repeat(False, n).cast(pa.bool_())
    in_sql = [c for c in table.columns if c.kind in _SQL_KINDS]
    for col in table.columns:
        if col.kind in _SQL_KINDS:
            continue
        text = raw.column(col.name).combine_chunks().cast(pa.string())
        if col.kind == "phone":
            number = raw.column(f"_e164_{col.name}").combine_chunks()
            columns[col.name] = _phone_values(text, raw.column(f"_withheld_{col.name}"), number)
            if col.name in required:
                suspect = pc.or_(suspect, pc.is_null(number))  # empty, withheld or unreadable
        else:
            columns[col.name] = pc.fill_null(text, "")
            if col.name in required:
                suspect = pc.or_(suspect, _blank(text))
    for col in list(in_sql):
        fast = _arrow_typed(col, raw.column(col.name).combine_chunks().cast(pa.string()),
                            col.name in plain_amounts)  # fmt: skip
        if fast is not None:
            columns[col.name], maybe_bad = fast
            if col.name in required:  # empty: null (an amount; other kinds go to DuckDB)
                maybe_bad = pc.or_(maybe_bad, pc.is_null(columns[col.name]))
            suspect = pc.or_(suspect, maybe_bad)
            in_sql.remove(col)
    if in_sql:
        typed, maybe = [], []
        for col in in_sql:
            value, checks = _column_sql(col, country)
            typed.append(f'{value} AS "_typed_{col.name}"')
            if col.name in required or checks:
                empty = f"nullif(trim(\"{col.name}\"), '') IS NULL"
                maybe.append(values.bad_sql([cond for cond, _reason in checks], empty,
                                            col.name in required))  # fmt: skip
        narrow = pa.table({**{c.name: raw.column(c.name) for c in in_sql},
                           "_row": pa.array(np.arange(n, dtype=np.int64))})  # fmt: skip
        lows = [_lowered(c) for c in in_sql if c.kind == "bool"]
        maybe_sql = " OR ".join(f"({m})" for m in maybe) if maybe else "false"
        outputs = ", ".join(f'"_typed_{c.name}" AS "{c.name}"' for c in in_sql)
        db = _connection()
        try:
            db.register("narrow_in", narrow)
            lowered = "SELECT *" + "".join(f", {x}" for x in lows) + " FROM narrow_in"
            out = db.sql(f"SELECT {outputs}, ({maybe_sql}) AS _maybe, _row FROM "
                         f"(SELECT *, {', '.join(typed)} FROM ({lowered}))").to_arrow_table()
        finally:
            db.close()
        if not pc.all(pc.equal(out.column("_row"), narrow.column("_row"))).as_py():
            out = out.take(pc.sort_indices(out.column("_row")))  # keep the rows in order
        for col in in_sql:
            columns[col.name] = out.column(col.name).combine_chunks()
        suspect = pc.or_(suspect, pc.fill_null(out.column("_maybe").combine_chunks(), True))
    data = pa.table([columns[c.name] for c in table.columns], names=table.column_names)
    row_lines = raw.column("_line").combine_chunks().cast(pa.int64())
    if not pc.any(suspect).as_py():
        return Batch(table_name, data.cast(table.schema), [], row_lines)
    # The full checks, on the few rows the cheap tests could not clear.
    problem, value, whens = _judge(table_name, raw.filter(suspect), country, plain_amounts)
    bad = pc.is_valid(problem)
    kept = pc.replace_with_mask(pc.invert(suspect), suspect, pc.invert(bad))
    lines = raw.column("_line").combine_chunks().filter(suspect).filter(bad)
    found = pa.table({"_line": lines, "_problem": problem.filter(bad), "_value": value.filter(bad)})
    found = found.sort_by("_line").to_pydict()
    rejected = [Rejected(source, int(line), table_name, whens[k][0], str(v), whens[k][1])
                for line, k, v in zip(found["_line"], found["_problem"], found["_value"],
                                      strict=True)]  # fmt: skip
    return Batch(table_name, data.filter(kept).cast(table.schema), rejected,
                 row_lines.filter(kept))


#: Column kinds that DuckDB types; the others are text, finished by Arrow kernels.
_SQL_KINDS = frozenset({"time", "date", "int", "decimal", "bool", "phone_list"})


_TRUE_VALUES = pa.array(values.TRUE_WORDS, pa.string())
_FALSE_VALUES = pa.array(values.FALSE_WORDS, pa.string())


def _arrow_typed(col: contract.Column, text: pa.Array, plain: bool = False
                 ) -> tuple[pa.Array, pa.Array] | None:  # fmt: skip
    """(typed column, whether each row may be bad) by Arrow kernels, where they give exactly
    what :func:`_column_sql` would; None where DuckDB must type the column.

    Arrow's casts accept a subset of what DuckDB's ``TRY_CAST`` does, with the same result,
    but fail on the whole column at the first value they cannot read (an empty cell, a date
    without a time, ``12.0``): such a column goes to DuckDB. (Arrow also reads ``T10Z``, an
    hour without minutes, which DuckDB does not: a time must have ``HH:MM``.) Amounts are
    always read here (:func:`scamtrace.core.amounts.parse_amounts`; ``plain``: see
    :func:`coerce`)."""
    if col.kind == "decimal":
        value, why = amounts.parse_amounts(text, plain)
        return value, pc.is_valid(why)
    if col.kind == "bool":
        # Most files write one spelling (``true``/``false``): where every value is one of
        # them as it stands, trimming and lowering each value would change nothing.
        yes = pc.is_in(text, _TRUE_VALUES)
        bad = pc.invert(pc.or_(yes, pc.is_in(text, _FALSE_VALUES)))
        if not pc.any(bad).as_py():
            return yes, bad
        low = pc.utf8_lower(pc.fill_null(pc.utf8_trim(text, " "), ""))
        yes = pc.is_in(low, _TRUE_VALUES)
        return yes, pc.invert(pc.or_(yes, pc.is_in(low, _FALSE_VALUES)))
    if col.kind not in ("time", "int") or text.null_count:
        return None
    if col.kind == "time":
        colon = pc.equal(pc.binary_slice(text.cast(pa.binary()), 13, 14), b":")  # bytes: cheap
        if not pc.all(colon).as_py():
            return None
        # With an offset, or without (then UTC, as in DuckDB's session: a naive time cast to
        # one with a zone keeps its value as UTC).
        typed = _cast(text, pa.timestamp("us", tz="UTC")) or \
            _cast(text, pa.timestamp("us"), pa.timestamp("us", tz="UTC"))  # fmt: skip
        if typed is None:
            return None
        # The epoch (a zero time: unknown) and times out of range go to the full checks.
        first = pa.scalar(values.TIME_FIRST_US, pa.timestamp("us", tz="UTC"))
        end = pa.scalar(values.TIME_END_US, pa.timestamp("us", tz="UTC"))
        return typed, pc.or_(pc.less_equal(typed, first), pc.greater_equal(typed, end))
    typed = _cast(text, pa.int64())
    if typed is None:
        return None
    if col.name in values.DURATIONS:
        return typed, pc.less(typed, 0)
    return typed, pa.repeat(False, len(text)).cast(pa.bool_())


def _cast(text: pa.Array, to: pa.DataType, then: pa.DataType | None = None) -> pa.Array | None:
    """``text`` cast to ``to`` (and then to ``then``), or None where a value will not cast.
    A failing cast costs as much as dozens of successful ones, so a sample is tried first."""
    try:
        text.slice(0, 256).cast(to)
        typed = text.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return typed.cast(then) if then is not None else typed


def _blank(text: pa.Array) -> pa.Array:
    """Whether each value is null, empty or only white space (a superset of SQL's
    ``trim(x) = ''``)."""
    empty = pc.or_(pc.equal(pc.binary_length(text), 0), pc.utf8_is_space(text))
    return pc.fill_null(empty, True)


def _phone_values(text: pa.Array, withheld: pa.Array | pa.ChunkedArray,
                  number: pa.Array) -> pa.Array:  # fmt: skip
    """E.164 where the number reads as one; else the value as logged (spaces trimmed), and
    empty when withheld."""
    e164 = pc.binary_replace_slice(number, 0, 0, "+")  # a prefix: cheaper than a join
    other = pc.is_null(number)
    if not pc.any(other).as_py():
        return e164
    if isinstance(withheld, pa.ChunkedArray):
        withheld = withheld.combine_chunks()
    logged = pc.fill_null(pc.utf8_trim(text.filter(other), " "), "")
    fallback = pc.if_else(withheld.filter(other), "", logged)
    return pc.replace_with_mask(e164, other, fallback)


def _judge(table_name: str, raw: pa.Table, country: str, plain_amounts: Collection[str] = ()
           ) -> tuple[pa.Array, pa.Array, list[tuple[str, str]]]:  # fmt: skip
    """Every check of every column, in column order, on ``raw`` (with the phone columns of
    :func:`_with_phone_columns`): for each row the index of its first failed check (null when
    none), the value that failed it, and for each index the (field, reason)."""
    table = contract.INPUT_TABLES[table_name]
    required = table.required
    typed, whens = [], []
    lows = [_lowered(c) for c in table.columns if c.kind == "bool"]
    for col in table.columns:
        if col.kind == "decimal":  # read by Arrow kernels (see _column_sql)
            value, why = amounts.parse_amounts(raw.column(col.name).combine_chunks(),
                                               col.name in plain_amounts)  # fmt: skip
            raw = raw.append_column(f"_dec_{col.name}", value)
            raw = raw.append_column(f"_decwhy_{col.name}", why)
        value, checks = _column_sql(col, country)
        typed.append(f'{value} AS "_typed_{col.name}"')
        empty = f"nullif(trim(\"{col.name}\"), '') IS NULL"
        raw_value = f"left(coalesce(\"{col.name}\", ''), 80)"
        if col.name in required:
            whens.append((empty, col.name, "missing", raw_value))
        if col.kind != "phone" or col.name in required:
            whens += [(f"NOT ({empty}) AND ({cond})", col.name, reason, raw_value)
                      for cond, reason in checks]  # fmt: skip
    reasons = [(f, r) for _c, f, r, _v in whens]
    if not whens:
        return pa.nulls(len(raw), pa.int32()), pa.nulls(len(raw), pa.string()), reasons
    problem = " ".join(f"WHEN {cond} THEN {k}" for k, (cond, *_rest) in enumerate(whens))
    values = " ".join(f"WHEN {k} THEN {v}" for k, (_c, _f, _r, v) in enumerate(whens))
    db = _connection()
    try:
        db.register("raw_in", raw.append_column("_row", pa.array(np.arange(len(raw)))))
        lowered = "SELECT *" + "".join(f", {x}" for x in lows) + " FROM raw_in"
        judged = (f"SELECT _row, CASE {problem} END AS _problem, * FROM "
                  f"(SELECT *, {', '.join(typed)} FROM ({lowered}))")  # fmt: skip
        out = db.sql(f"SELECT CAST(_problem AS INTEGER) AS _problem, "
                     f"CASE _problem {values} END AS _value FROM ({judged}) "
                     "ORDER BY _row").to_arrow_table()  # fmt: skip
    finally:
        db.close()
    return (out.column("_problem").combine_chunks(), out.column("_value").combine_chunks(),
            reasons)
