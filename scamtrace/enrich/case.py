"""Read a case folder into DuckDB as normalised tables, setting bad rows aside.

Every contract table that is present becomes one DuckDB table of the same name with typed,
normalised columns: times as epoch seconds (``t``), phones as E.164 digits in a ``BIGINT``
(compact, and joins on integers are fast at hundreds of millions of rows; ``+`` is added back
when a finding is written), amounts as ``DOUBLE``. Values are read by the rules ``ingest``
types them by (:mod:`scamtrace.core.values`, :mod:`scamtrace.core.amounts`, the contract's
required columns), so a case folder written by hand reads as it would once ingested. A row
whose time, number or amount cannot be read, or that lacks a required value, is never
dropped silently: it goes to ``rejected`` with its file, line and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from scamtrace.core import contract, values
from scamtrace.core.amounts import amount_sql, plain_columns, register_amount_sql
from scamtrace.core.casefolder import case_lock, holder_countries, recover_missing
from scamtrace.core.contract import Column
from scamtrace.core.errors import CaseFolderError
from scamtrace.core.phones import (
    dial_plan,
    international_user_parts,
    phone_number_sql,
    phone_parts_sql,
    valid_number_sql,
)
from scamtrace.core.quality import SAMPLE_ROWS, ColumnQuality, count_read, key_columns
from scamtrace.core.sql import connect, literal, run
from scamtrace.core.verdicts import Verdict


@dataclass
class Case:
    """An open case folder: a DuckDB connection holding its normalised tables."""

    folder: Path
    db: duckdb.DuckDBPyConnection
    country: str
    table_country: dict[str, str]
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_set_aside: dict[str, int] = field(default_factory=dict)
    quality: list[ColumnQuality] = field(default_factory=list)
    #: Analysts' verdicts that ``detect`` reads as labels (``detect --verdicts``); none by default.
    verdicts: tuple[Verdict, ...] = ()

    def has(self, table: str) -> bool:
        return table in self.present

    def count(self, sql: str) -> int:
        rows = run(self.db, sql)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def open_case(
    folder: Path,
    country: str | None = None,
    db: duckdb.DuckDBPyConnection | None = None,
    tables: tuple[str, ...] | None = None,
) -> Case:
    """Load every contract table present in ``folder`` (or just ``tables``).

    The tables are copied into DuckDB under the case's shared lock: a writer (``ingest``)
    swaps a case in only between two readings, so every table read comes from one commit."""
    if not folder.is_dir():
        recover_missing(folder)  # a writer killed between its two renames moved it aside
    if not folder.is_dir():
        raise CaseFolderError(f"{folder}: case folder not found")
    with case_lock(folder, shared=True, purpose="reading"):
        return _open(folder, country, db, tables)


def _open(folder: Path, country: str | None, db: duckdb.DuckDBPyConnection | None,
          tables: tuple[str, ...] | None) -> Case:  # fmt: skip
    default, per_table = holder_countries(folder, country)
    case = Case(folder, db or connect(), default, per_table)
    register_amount_sql(case.db)
    run(case.db,
        "CREATE OR REPLACE TABLE rejected (tbl VARCHAR, file VARCHAR, line BIGINT, "
        "field VARCHAR, value VARCHAR, reason VARCHAR)"
    )
    wanted = tables or tuple(contract.INPUT_TABLES)
    for name in contract.INPUT_TABLES:
        path = _find(folder, name) if name in wanted else None
        if path is None:
            case.missing.append(name)
            _empty(case, contract.INPUT_TABLES[name], per_table.get(name, default))
            continue
        _load(case, contract.INPUT_TABLES[name], path, per_table.get(name, default))
        case.present.append(name)
    return case


def _find(folder: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def _typed(col: Column, country: str, sip: bool = False) -> tuple[str, str | None]:
    """(SQL for the normalised value, SQL that is true when the row is to be set aside for
    this column, or None when it never is), over :func:`_staged`'s columns. ``sip``: the
    table is SIP-side and its staging has ``"_intl_<name>"`` (:func:`_mark_international`)."""
    text = f'trim(CAST("{col.name}" AS VARCHAR))'
    blank = f"coalesce({text}, '') = ''"
    typed = f'"_typed_{col.name}"'
    if col.kind == "decimal":  # empty, or set aside by the amount rule: NULL
        return f"CAST({typed} AS DOUBLE)", values.bad_sql([f"{typed} IS NULL"],
                                                          f'"_text_{col.name}" IS NULL',
                                                          col.required)  # fmt: skip
    if col.kind in values.SQL_TYPED:
        _value, checks = values.typed_sql(col, f'"_text_{col.name}"', typed,
                                          f'"_low_{col.name}"')  # fmt: skip
        blank = f'"_text_{col.name}" IS NULL'
        value = f"CAST(epoch({typed}) AS BIGINT)" if col.kind == "time" else typed
        return value, values.bad_sql([cond for cond, _reason in checks], blank, col.required)
    if col.kind == "phone":
        parts = {k: f'"_{k}_{col.name}"' for k in ("digits", "plus", "withheld")}
        number = phone_number_sql(parts["digits"], parts["plus"], parts["withheld"], country)
        if sip:
            number = (f'CASE WHEN "_intl_{col.name}" THEN TRY_CAST({parts["digits"]} AS BIGINT) '
                      f"ELSE {number} END")  # fmt: skip
        value = valid_number_sql(f"({number})")
        # Kept even when the dialled number is empty or unreadable: ingest sets such rows aside,
        # but a merged exchange case holds calls whose callee is only a keyed hash, and those
        # calls are still evidence of the line and the address that placed them.
        return value, None
    return f"coalesce({text}, '')", blank if col.required else None


def _staged(table: contract.Table, source: str, line: str, plain: frozenset[str] = frozenset()
            ) -> str:  # fmt: skip
    """``source`` with ``_line``, the phone columns' regex work done once, and each typed
    column's text (``"_text_<name>"``: trimmed, NULL when empty; a typed Parquet column's
    too, read by the same rules) and value (``"_typed_<name>"``)."""
    parts = [
        f'{expr} AS "_{part}_{c.name}"'
        for c in table.columns
        if c.kind == "phone"
        for part, expr in phone_parts_sql(f'"{c.name}"').items()
    ]
    typed = []
    for c in table.columns:
        column, text, low = f'"{c.name}"', f'"_text_{c.name}"', f'"_low_{c.name}"'
        if c.kind == "decimal":
            typed.append(f'{amount_sql(text, c.name in plain)} AS "_typed_{c.name}"')
        elif c.kind in values.SQL_TYPED:
            typed.append(f'{values.typed_sql(c, text, "", low)[0]} AS "_typed_{c.name}"')
        else:
            continue
        parts.append(f"nullif(trim(CAST({column} AS VARCHAR)), '') AS {text}")
        if c.kind == "bool":
            parts.append(f"{values.lowered_sql(f'CAST({column} AS VARCHAR)')} AS {low}")
    extra = "".join(f", {p}" for p in parts)
    outer = "".join(f", {t}" for t in typed)
    return f"(SELECT *{outer} FROM (SELECT *, {line} AS _line{extra} FROM {source}))"


def _empty(case: Case, table: contract.Table, country: str) -> None:
    """A missing table becomes an empty one of the same shape, so detectors need no special
    case for it (they consult ``Case.present`` to say what they could not do)."""
    blank = ", ".join(f'NULL::VARCHAR AS "{c.name}"' for c in table.columns)
    source = _staged(table, f"(SELECT {blank})", "0::BIGINT")
    typed = ", ".join(f'{_typed(c, country)[0]} AS "{c.name}"' for c in table.columns)
    run(case.db, f"CREATE OR REPLACE TABLE {table.name} AS SELECT {typed}, _line "
                 f"FROM {source} WHERE false")  # fmt: skip


def _load(case: Case, table: contract.Table, path: Path, country: str) -> None:
    db = case.db
    parquet = path.suffix == ".parquet"
    source = (
        f"read_parquet({literal(path)}, file_row_number = true)"
        if parquet
        else f"read_csv({literal(path)}, all_varchar = true, header = true, delim = ',', "
        "quote = '\"', escape = '\"')"
    )
    forgiving = False
    try:
        cols = [str(r[0]) for r in run(db, f"DESCRIBE SELECT * FROM {source}")]
        plain = frozenset(plain_columns(pq.read_schema(path)) if parquet else ())
    except duckdb.Error as exc:
        # A CSV with a row DuckDB's sniffer cannot make out (a file cut in the middle of a
        # quoted value, a byte that is not UTF-8) is read again with the header's columns
        # given, and the rows it cannot read are set aside instead of failing the table.
        retry = None if parquet else _forgiving_csv(path, table.name)
        got = _columns(db, retry) if retry else None
        if retry is None or got is None:
            # DuckDB's first line says what is wrong; the rest is a page of reader options
            problem = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
            raise CaseFolderError(f"{path}: cannot be read as {table.name}: "
                                  f"{problem or type(exc).__name__}") from exc  # fmt: skip
        source, cols, plain, forgiving = retry, got, frozenset(), True
    lacking = [c.name for c in table.columns if c.name not in cols and not c.optional]
    if lacking:
        raise CaseFolderError(f"{path}: line 1: missing column {lacking[0]!r} of {table.name}")
    # Parquet rows count from 1; the reader numbers them without a window over the file. CSV:
    # the header is line 1; numbering needs the file's order, so it is read once, into the
    # staged table below.
    line = "file_row_number + 1" if parquet else "CAST(row_number() OVER () AS BIGINT) + 1"
    sip = table.name in contract.SIP_TABLES
    selects, checks = [], []
    values_sql: dict[str, str] = {}
    for col in table.columns:
        if col.name not in cols:
            selects.append(f"'' AS \"{col.name}\"")
            continue
        value, bad = _typed(col, country, sip)
        values_sql[col.name] = value
        selects.append(f'{value} AS "{col.name}"')
        if bad is not None:
            checks.append((col.name, bad))
    present = [c for c in table.columns if c.name in cols]
    # Staged once into a temporary table: each value is read once, and the checks and the
    # values below refer to it (DuckDB would otherwise compute a typed value again in
    # every check that names it).
    staged = f"staged_{table.name}"
    run(db, f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM "
            + _staged(contract.Table(table.name, tuple(present), table.meaning), source, line,
                      plain))  # fmt: skip
    if sip:
        for col in present:
            if col.kind == "phone":
                _mark_international(db, staged, col.name, country)
    unreadable = 0
    if forgiving:
        # the rejects table is filled by the scan that staged the rows above
        # DuckDB counts the header as line 1 too; rows after a set-aside one are numbered here
        # by their place among the rows read, as everywhere when a CSV has no bad row
        run(db, f"""INSERT INTO rejected SELECT '{table.name}', {literal(str(path))}, line,
                    coalesce(column_name, ''), left(coalesce(csv_line, ''), 80),
                    'unreadable CSV row: ' || error_message FROM rejects_{table.name}""")
        unreadable = case.count(f"SELECT count(*) FROM rejects_{table.name}")
    case.quality += _quality(case, staged, table, present, values_sql, dict(checks),
                             path)  # fmt: skip
    keep = ""
    if checks:
        union = " UNION ALL ".join(
            f"SELECT '{table.name}', {literal(path)}, _line, '{name}', "
            f"left(CAST(\"{name}\" AS VARCHAR), 80), "
            f"'cannot read {name} as {table.column(name).kind}' FROM {staged} WHERE {bad}"
            for name, bad in checks
        )
        run(db, f"INSERT INTO rejected {union}")
        keep = "WHERE NOT (" + " OR ".join(f"({bad})" for _, bad in checks) + ")"
    run(db, f"CREATE OR REPLACE TABLE {table.name} AS SELECT {', '.join(selects)}, _line "
            f"FROM {staged} {keep}")  # fmt: skip
    total = case.count(f"SELECT count(*) FROM {staged}") + unreadable
    run(db, f"DROP TABLE {staged}")
    case.rows_read[table.name] = total
    case.rows_set_aside[table.name] = total - case.count(f"SELECT count(*) FROM {table.name}")


def _quality(case: Case, staged: str, table: contract.Table, present: list[Column],
             values_sql: dict[str, str], bad_sql: dict[str, str], path: Path
             ) -> list[ColumnQuality]:  # fmt: skip
    """The share of each key column of ``table`` that was read (:mod:`scamtrace.core.quality`),
    measured on the staged rows before any is set aside: times and amounts over every row in
    one pass, the others on one repeatable sample of the rows."""
    keys = key_columns(contract.Table(table.name, tuple(present), table.meaning))
    if not keys:
        return []

    def text(name: str) -> str:
        return f'nullif(trim(CAST("{name}" AS VARCHAR)), \'\')'

    counted = [c for c, check in keys if check in ("time", "amount")]
    # staging keeps each typed column's text, trimmed and NULL when empty
    aggregates = "".join(f', count("_text_{c.name}"), count("_text_{c.name}") FILTER '
                         f"(WHERE {bad_sql.get(c.name, 'false')})" for c in counted)  # fmt: skip
    totals = run(case.db, f"SELECT count(*){aggregates} FROM {staged}")[0]
    rows, counts = int(totals[0]), [int(v) for v in totals[1:]]
    sample = f"quality_sample_{table.name}"
    # Every step-th line of the file: spread over the whole table, the same rows on every run
    # (a court must get the same figures), and a scan of one column (a reservoir over every
    # row costs a second per 20 million).
    step = max(1, -(-rows // SAMPLE_ROWS))
    run(case.db, f"CREATE OR REPLACE TEMP TABLE {sample} AS SELECT * FROM {staged} "
                 f"WHERE _line % {step} = 0")  # fmt: skip
    measured = []
    for col, check in keys:
        if col in counted:
            i = 2 * counted.index(col)
            measured.append(ColumnQuality(table.name, col.name, check, str(path), counts[i],
                                          counts[i] - counts[i + 1], False))  # fmt: skip
            continue
        value, judged = (
            (f"CAST({values_sql[col.name]} AS VARCHAR)", f'NOT "_withheld_{col.name}"')
            if check == "phone" else (text(col.name), f"{text(col.name)} IS NOT NULL"))  # fmt: skip
        values = case.db.sql(f"SELECT {value} AS v FROM {sample} WHERE {judged}") \
            .to_arrow_table()["v"].combine_chunks()  # fmt: skip
        measured.append(ColumnQuality(table.name, col.name, check, str(path), len(values),
                                      count_read(check, values), rows > SAMPLE_ROWS))  # fmt: skip
    run(case.db, f"DROP TABLE {sample}")
    return measured


def _mark_international(db: duckdb.DuckDBPyConnection, staged: str, name: str,
                        country: str) -> None:  # fmt: skip
    """Add ``"_intl_<name>"`` to ``staged``: whether the value is international digits written
    without ``+``, by the rule ingest applies to SIP-side tables
    (:func:`scamtrace.core.phones.international_user_parts`). Only bare digits can be; each
    distinct one is judged once, with ``phonenumbers``' patterns run by Arrow kernels."""
    flag = f'"_intl_{name}"'
    run(db, f"ALTER TABLE {staged} ADD COLUMN {flag} BOOLEAN DEFAULT false")
    intl = dial_plan(country).international_prefix
    candidates = db.sql(f"""
        SELECT DISTINCT "_digits_{name}" AS digits FROM {staged}
        WHERE NOT "_plus_{name}" AND length("_digits_{name}") >= 7
          AND NOT starts_with("_digits_{name}", {literal(intl)})
          AND "_digits_{name}" = trim(CAST("{name}" AS VARCHAR))
    """).to_arrow_table()["digits"].combine_chunks()  # fmt: skip
    if len(candidates) == 0:
        return
    international = candidates.filter(international_user_parts(candidates, country))
    if len(international) == 0:
        return
    found = pa.table({"digits": international})
    db.register("_international_digits", found)
    try:
        run(db, f"""UPDATE {staged} SET {flag} = true WHERE "_digits_{name}" IN
                    (SELECT digits FROM _international_digits)""")  # fmt: skip
    finally:
        db.unregister("_international_digits")


def _forgiving_csv(path: Path, name: str) -> str | None:
    """SQL reading ``path`` with the columns its header names, every value as text, rows that
    cannot be read stored in ``rejects_<name>``; None when even the header cannot be read."""
    import csv

    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header or len(set(header)) < len(header):
        return None
    columns = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header)
    return (f"read_csv({literal(path)}, auto_detect = false, header = true, delim = ',', "
            f"quote = '\"', escape = '\"', columns = {{{columns}}}, store_rejects = true, "
            f"rejects_table = 'rejects_{name}', rejects_scan = 'rejects_scan_{name}')")  # fmt: skip


def _columns(db: duckdb.DuckDBPyConnection, source: str) -> list[str] | None:
    try:
        return [str(r[0]) for r in run(db, f"DESCRIBE SELECT * FROM {source}")]
    except duckdb.Error:
        return None
