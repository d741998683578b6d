"""What every ingest format shares: the reader protocol, batches, rejected rows, and the one
place where text becomes the contract's types.

A reader turns one source file into batches of *text* columns named after a contract table's
columns (whatever the source called them), each row with the line or record number it came
from. :func:`coerce` then types them the same way for every format (times to UTC, phones to
E.164 in the holder's country, amounts to exact decimals) and sets aside, with file, line,
field and reason, every row it cannot read. Readers never drop a row silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from scamtrace import contract
from scamtrace.enrich.phones import (
    e164_sql,
    phone_number_sql,
    phone_parts_sql,
    valid_number_sql,
)
from scamtrace.errors import ScamtraceError

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


class IngestError(ScamtraceError):
    """A source that cannot be ingested at all (unknown format, unreadable file)."""


@dataclass(frozen=True)
class Rejected:
    source: str
    line: int
    table: str
    field: str
    value: str
    reason: str


@dataclass
class Batch:
    """Rows for one contract table, in its Arrow schema, and the rows set aside."""

    table: str
    data: pa.Table
    rejected: list[Rejected] = field(default_factory=list)


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
    data = {name: pa.array(values, pa.string()) if not isinstance(values, pa.Array)
            else values.cast(pa.string()) for name, values in columns.items()}  # fmt: skip
    data["_line"] = pa.array(lines, pa.int64()) if not isinstance(lines, pa.Array) else \
        lines.cast(pa.int64())  # fmt: skip
    return pa.table(data)


_TRUE = "('true', '1', 't', 'yes', 'y')"
_FALSE = "('false', '0', 'f', 'no', 'n', '')"


def _column_sql(col: contract.Column, country: str) -> tuple[str, str | None, str]:
    """(typed value, SQL true when the non-empty value is unreadable, what was expected)."""
    text = f"nullif(trim(\"{col.name}\"), '')"
    if col.kind == "time":
        # A time without an offset is UTC (the contract); DuckDB's session zone is UTC.
        value = f"TRY_CAST({text} AS TIMESTAMPTZ)"
        return value, f"{value} IS NULL", "an ISO 8601 time"
    if col.kind == "date":
        value = f"TRY_CAST({text} AS DATE)"
        return value, f"{text} IS NOT NULL AND {value} IS NULL", "a date (YYYY-MM-DD)"
    if col.kind == "int":
        value = f"TRY_CAST(TRY_CAST({text} AS DECIMAL(38, 6)) AS BIGINT)"
        return value, f"{text} IS NOT NULL AND {value} IS NULL", "a whole number"
    if col.kind == "decimal":
        # Decimal all the way: '1234.56' never passes through a float.
        value = f"TRY_CAST(replace({text}, ',', '') AS DECIMAL(18, 2))"
        bad = f"{text} IS NOT NULL AND ({value} IS NULL OR {value} < 0)"
        return value, bad, "a positive amount"
    if col.kind == "bool":
        low = f"lower(coalesce({text}, ''))"
        return f"({low} IN {_TRUE})", f"NOT ({low} IN {_TRUE} OR {low} IN {_FALSE})", \
            "true/false"  # fmt: skip
    if col.kind == "phone":
        parts = {k: f'"_{k}_{col.name}"' for k in ("digits", "plus", "withheld")}
        number = phone_number_sql(parts["digits"], parts["plus"], parts["withheld"], country)
        valid = valid_number_sql(f"({number})")
        # Normalised to E.164 where it can be; kept as logged where it cannot (the contract
        # allows any of the holder's formats), and empty when withheld.
        value = (f"CASE WHEN {parts['withheld']} THEN '' WHEN {valid} IS NOT NULL "
                 f"THEN '+' || CAST({valid} AS VARCHAR) ELSE coalesce(trim(\"{col.name}\"), '') "
                 "END")  # fmt: skip
        # Unreadable numbers are kept, except where the number is what the row is about.
        return value, f"({valid}) IS NULL", "a phone number"
    if col.kind == "phone_list":
        each = e164_sql("trim(x)", country)
        items = f"string_split(coalesce(\"{col.name}\", ''), ';')"
        value = (f"array_to_string(list_filter(list_transform({items}, "
                 f"lambda x: coalesce({each}, trim(x))), lambda x: x <> ''), ';')")  # fmt: skip
        return value, None, "phone numbers separated by ;"
    return f"coalesce(\"{col.name}\", '')", None, "text"


#: Fields without which a row means nothing.
REQUIRED = {
    "carrier_cdr": ("call_id", "start_time", "called_number"),
    "voip_cdr": ("call_id", "start_time", "to_number"),
    "accounts": ("account_id",),
    "transfers": ("tx_id", "time", "amount"),
    "reports": ("report_id", "filed_at"),
    "transcripts": ("call_id", "text"),
}


def _connection() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'").fetchall()
    return db


def coerce(table_name: str, raw: pa.Table, source: str, country: str) -> Batch:
    """Type ``raw`` (text columns named after the contract's, plus ``_line``) into the contract
    table ``table_name``; rows with an unreadable or missing required field are set aside."""
    table = contract.INPUT_TABLES[table_name]
    missing = [c.name for c in table.columns if c.name not in raw.column_names
               and c.name in REQUIRED[table_name]]  # fmt: skip
    if missing:
        raise IngestError(f"{source}: no column for {table_name}.{missing[0]}")
    for col in table.columns:
        if col.name not in raw.column_names:
            raw = raw.append_column(col.name, pa.nulls(len(raw), pa.string()))
    db = _connection()
    db.register("raw_in", raw)
    parts = ", ".join(f'{expr} AS "_{part}_{c.name}"' for c in table.columns if c.kind == "phone"
                      for part, expr in phone_parts_sql(f'"{c.name}"').items())  # fmt: skip
    # One pass does the regex work; one more types every column and names the first problem.
    db.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT *{', ' + parts if parts else ''} "
               "FROM raw_in").fetchall()  # fmt: skip
    selects, whens = [], []
    required = REQUIRED[table_name]
    for col in table.columns:
        value, bad, expected = _column_sql(col, country)
        selects.append(f'{value} AS "{col.name}"')
        empty = f"nullif(trim(\"{col.name}\"), '') IS NULL"
        raw_value = f"left(coalesce(staged.\"{col.name}\", ''), 80)"
        if col.name in required:
            whens.append((empty, col.name, "missing", raw_value))
        if bad is not None and (col.kind != "phone" or col.name in required):
            whens.append((f"NOT ({empty}) AND ({bad})", col.name, f"not {expected}", raw_value))
    problem = " ".join(f"WHEN {cond} THEN {n}" for n, (cond, *_rest) in enumerate(whens))
    problem_sql = f"CASE {problem} END" if whens else "NULL::INTEGER"
    db.execute(f"CREATE OR REPLACE TEMP TABLE typed AS SELECT _line, {problem_sql} AS _problem, "
               f"{', '.join(selects)} FROM staged").fetchall()  # fmt: skip
    rejected_rows = []
    if whens:
        values = " ".join(f"WHEN {n} THEN {v}" for n, (_c, _f, _r, v) in enumerate(whens))
        rejected_rows = db.execute(
            f"SELECT t._line, t._problem, CASE t._problem {values} END FROM typed t "
            "JOIN staged USING (_line) WHERE t._problem IS NOT NULL ORDER BY t._line"
        ).fetchall()
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    typed = db.sql(f"SELECT {names} FROM typed WHERE _problem IS NULL").to_arrow_table()
    data = typed.cast(table.schema)
    rejected = [Rejected(source, int(line), table_name, whens[n][1], str(v), whens[n][2])
                for line, n, v in rejected_rows]  # fmt: skip
    return Batch(table_name, data, rejected)

