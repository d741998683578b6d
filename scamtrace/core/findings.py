"""The findings folder: the one place that reads and writes it.

``scamtrace detect`` writes a findings folder (``entities.csv``, ``transfers.csv``,
``centers.csv``, ``networks.csv``, ``leads.csv``, ``scripts.csv``, ``evidence.csv``,
``rejected.csv``, ``summary.json``); ``share`` adds to it and exports it, ``report`` renders it,
``evaluate`` scores it. Every one of them reads it through this module, so that its tables are
read one way: the columns :mod:`scamtrace.core.contract` declares, the spreadsheet-formula
escape of :mod:`scamtrace.core.formulas` taken off every cell, and any fault a one-line
:class:`~scamtrace.core.errors.FindingsError` naming the file, the line and the field.

Four ways to read a table, for four kinds of reader:

- :func:`read_table`: typed Arrow, each contract column as its kind (scores as floats, times as
  UTC timestamps, counts as integers); for queries and the services to come.
- :func:`read_csv_text`: every column as the text written (``""`` for an empty cell); for
  readers that must give back exactly what was written (exports, scoring).
- :func:`read_rows`: the same as a list of dicts, for small tables.
- :func:`read_forgiving`: text, skipping and counting rows it cannot read rather than failing;
  for the case report, which shows what it can of a damaged folder.

Writing: :func:`write_rows` and :func:`write_table` write one CSV file through a hidden
sibling, every text cell made inert for spreadsheets; :func:`copy_query` copies a DuckDB
``SELECT`` into ``<name>.csv`` with the same rule applied in SQL.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scamtrace.core import contract
from scamtrace.core.casefolder import write_file_atomically
from scamtrace.core.errors import FindingsError
from scamtrace.core.formulas import neutral, neutral_sql, restore, restore_table
from scamtrace.core.sql import literal, run

SUMMARY = "summary.json"
_TEXT_KINDS = frozenset({"string", "phone", "phone_list", "list", "text"})


def table_file(name: str) -> str:
    """The file name of findings table ``name`` (``entities`` -> ``entities.csv``)."""
    return f"{name}.csv"


def table_path(folder: Path, name: str) -> Path:
    """Where table ``name`` of a findings folder lives."""
    return folder / table_file(name)


def spec(name: str) -> contract.Table | None:
    """The contract's declaration of findings table ``name`` (None for a table it does not
    declare)."""
    return contract.FINDINGS_TABLES.get(name)


# ------------------------------------------------------------------------------- reading
def read_header(path: Path) -> list[str]:
    """The column names of a CSV file (empty for an empty file)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh), [])
    except OSError as exc:
        raise FindingsError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FindingsError(f"{path}: line {_undecodable_line(path)}: not UTF-8 text") from exc
    except csv.Error as exc:
        raise FindingsError(f"{path}: line 1: not a readable CSV file: {exc}") from exc


def _undecodable_line(path: Path) -> int:
    """The first line of ``path`` that is not UTF-8 (a character never spans a newline byte)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def read_csv_text(path: Path, required: Sequence[str] = ()) -> pa.Table:
    """Every column of the CSV file ``path`` as text, ``""`` for an empty cell, without the
    formula escape. A missing file, bytes that are not UTF-8, a row with too many or too few
    fields, a repeated column or a missing ``required`` one is a :class:`FindingsError`."""
    if not path.is_file():
        raise FindingsError(f"{path}: not found")
    header = read_header(path)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FindingsError(f"{path}: line 1: field {name}: the column is named twice")
        seen.add(name)
    for name in required:
        if name not in seen:
            raise FindingsError(f"{path}: line 1: missing column {name!r}")
    if not header:
        return pa.table({})
    try:
        table = read_as_written(path, header)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _first_fault(path, len(header)) from exc
    # values as they were found: the ' that keeps a spreadsheet from running one is not data
    return restore_table(table)


def read_as_written(path: Path, header: Sequence[str]) -> pa.Table:
    """The rows of the CSV file ``path`` under ``header`` (its first line), every cell the
    text written, ``""`` for an empty one: no number, date or null guessed, so an id like
    ``00123`` or a number like ``+34612345678`` comes back as it went in. Raises pyarrow's
    errors; :func:`read_csv_text` names the line at fault."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=list(header)),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in header},
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )  # fmt: skip


def _first_fault(path: Path, fields: int) -> FindingsError:
    """The error naming the first line of ``path`` that the fast reader could not read."""
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                line = reader.line_num
                if row and len(row) != fields:
                    return FindingsError(f"{path}: line {line}: {len(row)} fields, the header "
                                         f"has {fields}")  # fmt: skip
    except UnicodeDecodeError:
        return FindingsError(f"{path}: line {_undecodable_line(path)}: not UTF-8 text")
    except csv.Error as exc:
        return FindingsError(f"{path}: line {line + 1}: not a readable CSV file: {exc}")
    return FindingsError(f"{path}: not a readable CSV file")


def read_rows(folder: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (as the text written) of table ``name``; a table the folder does not
    hold is empty. For small tables: a row is a dict."""
    path = table_path(folder, name)
    if not path.is_file():
        return [], []
    return read_csv_rows(path)


def read_csv_rows(
    path: Path, required: Sequence[str] = ()
) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of the CSV file ``path``, as :func:`read_csv_text` reads it."""
    table = read_csv_text(path, required)
    return list(table.column_names), table.to_pylist()


def read_text(folder: Path, name: str, required: Sequence[str] | None = None) -> pa.Table:
    """Table ``name`` of a findings folder as text (:func:`read_csv_text`); ``required``
    defaults to the columns the shared contract names for it."""
    table = spec(name)
    if required is None:
        required = table.required_names if table else ()
    return read_csv_text(table_path(folder, name), required)


def read_table(folder: Path, name: str) -> pa.Table:
    """Table ``name`` of a findings folder, typed: every column the contract declares as its
    kind (a declared column the file lacks comes as nulls), any other column as text. An
    empty cell of a typed column is null; a cell that is not its kind is a
    :class:`FindingsError` naming line and field."""
    declared = spec(name)
    path = table_path(folder, name)
    text = read_text(folder, name)
    if declared is None:
        return text
    return typed(text, declared, path)


def typed(text: pa.Table, declared: contract.Table, path: Path) -> pa.Table:
    """``text`` (as :func:`read_csv_text` reads it) with ``declared``'s columns as their kind."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for column in declared.columns:
        if column.name not in text.column_names:
            columns[column.name] = pa.nulls(text.num_rows, column.arrow_type)
            continue
        values = text.column(column.name)
        if column.kind in _TEXT_KINDS:
            columns[column.name] = values
            continue
        blank = pc.equal(values, "")
        values = pc.if_else(blank, pa.scalar(None, pa.string()), values)
        try:
            columns[column.name] = values.cast(column.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise _bad_cell(path, column, values) from exc
    for name in text.column_names:
        if name not in columns:
            columns[name] = text.column(name)
    return pa.table(columns)


def _bad_cell(path: Path, column: contract.Column, values: pa.ChunkedArray) -> FindingsError:
    """The error naming the first cell of ``values`` that is not ``column``'s kind."""
    for record, value in enumerate(values.to_pylist()):
        try:
            pa.array([value], pa.string()).cast(column.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            line = _line_of_record(path, record)
            shown = value if len(value) <= 40 else value[:40] + "..."
            return FindingsError(f"{path}: line {line}: field {column.name}: {shown!r} is not "
                                 f"of kind {column.kind}")  # fmt: skip
    return FindingsError(f"{path}: field {column.name}: not of kind {column.kind}")


def _line_of_record(path: Path, record: int) -> int:
    """The line of ``path`` on which data record ``record`` (0 is the first after the header)
    ends: values may span lines."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        seen = -1
        for row in reader:
            if row:
                seen += 1
            if seen == record:
                return reader.line_num
    return record + 2


def flagged(folder: Path, kind: str) -> set[str]:
    """The values of the entities of ``kind`` that are flagged (score at least the contract's
    flag threshold)."""
    entities = read_table(folder, "entities")
    hit = pc.and_(pc.equal(entities.column("kind"), kind),
                  pc.greater_equal(entities.column("score"), contract.FLAG_THRESHOLD))  # fmt: skip
    return set(entities.filter(hit).column("value").to_pylist())


def read_forgiving(path: Path, columns: Sequence[str]) -> tuple[pa.Table, int] | None:
    """Every column of ``path`` as text (``""`` for empty cells), reading what it can.

    ``None`` when the file does not exist; else the table, holding at least ``columns`` (absent
    ones filled with ``""``), values without the formula escape, and the number of malformed
    rows skipped. Undecodable bytes are replaced; a repeated or blank column name gets a
    suffix (``name_2``, ``column_3``)."""
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        return pa.table({c: pa.array([], pa.string()) for c in columns}), 0
    names = _unique_names(header)
    bad = 0

    def skip(_row: object) -> str:
        nonlocal bad
        bad += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        table, bad = _read_with_python(path, names)
    for c in columns:
        if c not in table.column_names:
            table = table.append_column(c, pa.array([""] * table.num_rows, pa.string()))
    return restore_table(table), bad


def _unique_names(header: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        base, k = name, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _read_with_python(path: Path, names: list[str]) -> tuple[pa.Table, int]:
    """Slow, forgiving reader: undecodable bytes replaced, ragged rows skipped."""
    cols: list[list[str]] = [[] for _ in names]
    bad = 0
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) != len(names):
                if not row:
                    continue
                bad += 1
                continue
            for col, cell in zip(cols, row, strict=True):
                col.append(cell)
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)}), bad


def read_summary(folder: Path) -> dict[str, Any]:
    """``summary.json`` of a findings folder (empty when there is none)."""
    path = folder / SUMMARY
    if not path.is_file():
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise FindingsError(f"{path}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise FindingsError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise FindingsError(f"{path}: line 1: not a JSON object")
    return summary


def read_evidence(folder: Path) -> list[dict[str, str]]:
    """The rows of ``evidence.csv`` (none when the folder has no evidence)."""
    return read_rows(folder, "evidence")[1]


@dataclass(frozen=True)
class EvidenceSpan:
    """How many records back an entity, and when they start and end."""

    records: int
    first: str
    last: str


def evidence_spans(folder: Path | None) -> dict[tuple[str, str], EvidenceSpan]:
    """Count and time span of ``evidence.csv`` records per (kind, value), computed column-wise
    (the evidence of a big case runs to millions of rows)."""
    if folder is None or not table_path(folder, "evidence").is_file():
        return {}
    import polars as pl

    frame = pl.read_csv(table_path(folder, "evidence"), infer_schema=False,
                        columns=["kind", "value", "time"])  # fmt: skip
    grouped = frame.group_by("kind", "value").agg(
        pl.len().alias("records"), pl.col("time").min().alias("first"),
        pl.col("time").max().alias("last"),
    )  # fmt: skip
    # keys as read_rows gives them, without the formula escape (one written value per value
    # found, so grouping before taking it off groups the same rows)
    return {(restore(k), restore(v)): EvidenceSpan(int(n), f or "", t or "")
            for k, v, n, f, t in grouped.iter_rows()}  # fmt: skip


# ------------------------------------------------------------------------------- writing
def write_rows(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, line_end: str = "\n"
) -> None:
    """Write a CSV file with every text cell made inert for spreadsheets, through a hidden
    sibling so a reader never sees half of it. ``line_end`` is ``"\\r\\n"`` only where a file
    has always been written so."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator=line_end)
            writer.writerow([neutral(str(h)) for h in header])
            writer.writerows(neutral_row(r) for r in rows)

    write_file_atomically(path, write)


def neutral_row(row: Sequence[object]) -> list[object]:
    """A CSV row with every text cell made inert (numbers and empty cells as they are)."""
    return [neutral(v) if isinstance(v, str) else v for v in row]


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` of a findings folder (indented JSON, through a hidden sibling)."""
    text = json.dumps(summary, indent=2) + "\n"

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_file_atomically(folder / SUMMARY, write)


def write_table(folder: Path, name: str, table: pa.Table) -> int:
    """Write ``table`` as ``<name>.csv`` of a findings folder: times as ISO 8601 UTC
    (``2026-01-31T12:00:00Z``), nulls as empty cells; returns the rows written."""
    columns = [_as_text(table.column(i)) for i in range(table.num_columns)]
    rows = zip(*(c.to_pylist() for c in columns), strict=True) if columns else iter(())
    write_rows(table_path(folder, name), table.column_names,
               ([("" if v is None else v) for v in row] for row in rows))  # fmt: skip
    rows_written: int = table.num_rows
    return rows_written


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_timestamp(values.type):
        # whole seconds, as detect writes them (strftime would add the fraction of the unit)
        seconds = pa.timestamp("s", tz="UTC")
        return pc.strftime(values.cast(seconds, safe=False), format="%Y-%m-%dT%H:%M:%SZ")
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return values.cast(pa.string())


def copy_query(db: duckdb.DuckDBPyConnection, folder: Path, name: str, sql: str) -> int:
    """Copy the rows of the DuckDB ``SELECT`` ``sql`` into ``<name>.csv`` of ``folder``, every
    text column made inert for spreadsheets; returns the rows written. The result is kept as
    the temporary table ``out_<name>`` of ``db``."""
    run(db, f"CREATE OR REPLACE TEMP TABLE out_{name} AS {sql}")
    run(db, f"COPY ({safe_select(db, f'out_{name}')}) TO {literal(table_path(folder, name))} "
            "(HEADER, DELIMITER ',', QUOTE '\"')")  # fmt: skip
    count: int = run(db, f"SELECT count(*) FROM out_{name}")[0][0]
    return count


def safe_select(db: duckdb.DuckDBPyConnection, table: str) -> str:
    """SQL selecting ``table`` with every text column made safe to open in a spreadsheet
    (:mod:`scamtrace.core.formulas`: a value that starts like a formula gets a leading ``'``;
    plain numbers such as E.164 values are left as they are). Readers of findings take it off."""
    cols = []
    for name, kind, *_ in run(db, f"DESCRIBE {table}"):
        quoted = '"' + str(name).replace('"', '""') + '"'
        cols.append(f"{neutral_sql(quoted)} AS {quoted}" if str(kind) == "VARCHAR" else quoted)
    return f"SELECT {', '.join(cols)} FROM {table}"
