"""Writing case folders safely: tables stream into a hidden sibling folder that replaces the
target only when everything is written, so a crash or Ctrl-C never leaves half a case behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scamtrace.contract import Table
from scamtrace.errors import CaseFolderError

TableFormat = Literal["parquet", "csv"]


def ensure_apart(output: Path, *inputs: Path | None, option: str = "--out") -> None:
    """Refuse an output that is, holds or lies inside one of ``inputs``.

    Replacing such an output would delete or rewrite what the command is reading (``detect
    CASE --out CASE --overwrite`` used to delete the case). Paths are compared resolved, so a
    symbolic link or ``..`` does not hide that two names are one folder.
    """
    target = output.resolve()
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = given.resolve()
        if target == source:
            why = "is"
        elif target in source.parents:
            why = "holds"
        elif source in target.parents:
            why = "lies inside"
        else:
            continue
        raise CaseFolderError(
            f"{output}: {option} {why} the input {given}; writing there would replace what is "
            "being read. Choose an output outside the inputs."
        )


class TableSink:
    """One contract table, written batch by batch in its declared schema."""

    def __init__(
        self, path: Path, table: Table, fmt: TableFormat, utc_offset_hours: float = 0.0
    ) -> None:
        self.table = table
        self.fmt = fmt
        self.rows = 0
        self._offset = utc_offset_hours
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._path = path

    def write(self, batch: pa.Table) -> None:
        batch = batch.select(self.table.column_names).cast(self.table.schema)
        self.rows += batch.num_rows
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(
                    self._path, self.table.schema, compression="zstd", store_schema=False
                )
            self._parquet.write_table(batch, row_group_size=1 << 20)
            return
        text = csv_ready(batch, self._offset)
        if self._csv is None:
            self._csv = pacsv.CSVWriter(self._path, text.schema)
        self._csv.write_table(text)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._csv is not None:
            self._csv.close()
        elif self.fmt == "parquet":
            pq.write_table(self.table.schema.empty_table(), self._path, store_schema=False)
        else:
            self._path.write_text(",".join(self.table.column_names) + "\n", encoding="utf-8")


def csv_ready(batch: pa.Table, utc_offset_hours: float) -> pa.Table:
    """Render a batch the way a holder's CSV export looks: ISO 8601 times with the holder's UTC
    offset, ``true``/``false`` booleans, decimals as plain numbers."""
    sign = "+" if utc_offset_hours >= 0 else "-"
    minutes = round(abs(utc_offset_hours) * 60)
    suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    columns = []
    for name in batch.column_names:
        col = batch.column(name)
        if pa.types.is_timestamp(col.type):
            local = pc.add(col.cast(pa.timestamp("us")), pa.scalar(
                int(utc_offset_hours * 3_600_000_000), pa.duration("us")))  # fmt: skip
            text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S")
            col = pc.binary_join_element_wise(text, pa.scalar(suffix), "")
        elif pa.types.is_decimal(col.type) or pa.types.is_date(col.type):
            col = col.cast(pa.string())
        columns.append(col)
    return pa.table(columns, names=batch.column_names)


class CaseFolderWriter:
    """Context manager that builds a case (or findings) folder aside and swaps it in on
    success."""

    def __init__(
        self, out: Path, *, overwrite: bool = False, subfolders: Sequence[str] = ("truth",)
    ) -> None:
        self.out = out
        self.overwrite = overwrite
        self.subfolders = tuple(subfolders)
        self.tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        self._sinks: list[TableSink] = []

    def __enter__(self) -> CaseFolderWriter:
        occupied = self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir()))
        if occupied and not self.overwrite:
            raise CaseFolderError(
                f"{self.out}: already exists and is not empty; choose another folder or "
                "pass --overwrite to replace it"
            )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        for sub in self.subfolders:
            (self.tmp / sub).mkdir(parents=True)
        return self

    def sink(self, table: Table, fmt: TableFormat, utc_offset_hours: float = 0.0) -> TableSink:
        s = TableSink(self.tmp / f"{table.name}.{fmt}", table, fmt, utc_offset_hours)
        self._sinks.append(s)
        return s

    def path(self, relative: str) -> Path:
        return self.tmp / relative

    def write_json(self, relative: str, obj: Any) -> None:
        text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False, default=str)
        self.path(relative).write_text(text + "\n", encoding="utf-8")

    def write_csv_rows(
        self, relative: str, header: Sequence[str], rows: Iterable[Sequence[object]]
    ) -> None:
        with self.path(relative).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    def write_csv_table(self, relative: str, table: pa.Table) -> None:
        pacsv.write_csv(table, self.path(relative))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            for s in self._sinks:
                with contextlib.suppress(Exception):  # already failing: keep the first error
                    s.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        for s in self._sinks:
            s.close()
        backup = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        if self.out.exists():
            os.replace(self.out, backup)
        os.replace(self.tmp, self.out)
        shutil.rmtree(backup, ignore_errors=True)
