"""One case as the workspace queries it: the findings folder and, where held, the case folder.

Every view of the workspace (tables, search, graph, map, timeline, entity pages) asks its
questions of one in-process DuckDB connection that :class:`CaseData` opens: the findings tables
as they were written (read through :mod:`scamtrace.core.findings`, so formula escapes come off
and faults name their line) and the case's own tables (``NAME.parquet`` or ``NAME.csv``) as views
over the files, so a 20-million-row carrier table is scanned by DuckDB on demand and pages on the
server, never loaded into Python.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.core.casefolder import read_holder
from scamtrace.core.errors import ScamtraceError

#: Findings tables the workspace shows (each registered as a DuckDB table of the same name).
FINDINGS_VIEWS = ("entities", "transfers", "centers", "networks", "leads", "evidence", "scripts")
#: Case tables the workspace reads for timelines and entity pages, registered as
#: ``case_<name>`` views when the case folder holds them.
CASE_VIEWS = tuple(contract.INPUT_TABLES)


class WorkspaceError(ScamtraceError):
    """A case the workspace cannot open; the message names the folder and the file."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class CaseData:
    """A case opened for the workspace. ``case_id`` is the workspace's name for it."""

    case_id: str
    findings_dir: Path
    case_dir: Path | None = None
    cache_dir: Path | None = None
    """Where the findings tables are kept as Parquet between starts (the workspace's state
    folder); ``None`` reads the CSV files into memory each time."""
    _db: duckdb.DuckDBPyConnection | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _opening: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    case_tables: tuple[str, ...] = field(default=(), init=False)
    """The case tables present (contract names), registered as ``case_<name>``."""

    @functools.cached_property
    def _holder(self) -> dict[str, Any]:
        """``holder.json`` of the case folder, read once; ``{}`` when absent or unreadable (the
        workspace shows what it can: numbers then read in E.164 only)."""
        if self.case_dir is None:
            return {}
        try:
            return read_holder(self.case_dir) or {}
        except (OSError, ScamtraceError):
            return {}

    @property
    def holder_country(self) -> str:
        """The default country of the case's holders (``holder.json``), ``""`` when unknown."""
        country = self._holder.get("country", "")
        return country if isinstance(country, str) else ""

    def table_country(self, table: str) -> str:
        """The country whose dial plan a case table's numbers were written in: the table's own
        holder, else the case's, else ``US`` (whose plan reads E.164 and ``00`` forms alike)."""
        tables = self._holder.get("tables")
        if isinstance(tables, dict) and isinstance(tables.get(table), str):
            return str(tables[table])
        return self.holder_country or "US"

    def open(self) -> CaseData:
        """Register every table; raises :class:`WorkspaceError` when the findings are unusable."""
        if self._db is not None:
            return self
        with self._opening:  # two first requests at once open the case once
            if self._db is None:
                self._open()
        return self

    def _open(self) -> None:
        if not (self.findings_dir / findings_folder.table_file("entities")).is_file():
            raise WorkspaceError(f"{self.findings_dir}: not a findings folder (no entities.csv)")
        db = duckdb.connect(":memory:")
        for name in FINDINGS_VIEWS:
            path = findings_folder.table_path(self.findings_dir, name)
            if not path.is_file():
                # an absent table is an empty one with the contract's columns, so every view
                # can query it and show "none found"
                spec = findings_folder.spec(name)
                names = spec.column_names if spec is not None else ["kind", "value"]
                cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{c}"' for c in names)
                db.execute(f"CREATE TABLE {name} AS SELECT {cols} WHERE false")
                continue
            cached = self._cached(name, path)
            if cached is not None:
                db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quote(cached)})")
                continue
            db.register(f"_{name}_arrow", self._read(name))
            db.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}_arrow")
            db.unregister(f"_{name}_arrow")
        present: list[str] = []
        if self.case_dir is not None:
            for name in CASE_VIEWS:
                parquet = self.case_dir / f"{name}.parquet"
                csv = self.case_dir / f"{name}.csv"
                if parquet.is_file():
                    source = f"read_parquet({_quote(str(parquet))})"
                elif csv.is_file():
                    source = f"read_csv({_quote(str(csv))}, all_varchar=true, header=true)"
                else:
                    continue
                db.execute(f"CREATE VIEW case_{name} AS SELECT * FROM {source}")
                present.append(name)
        self.case_tables = tuple(present)
        self._db = db

    def _read(self, name: str) -> pa.Table:
        try:
            return findings_folder.read_text(self.findings_dir, name, required=())
        except ScamtraceError as exc:
            raise WorkspaceError(str(exc)) from None

    def _cached(self, name: str, path: Path) -> str | None:
        """The Parquet copy of findings table ``name`` in the cache, made when the CSV file is
        new or changed (its size and modification time name the copy); ``None`` without a
        cache folder. Earlier copies of the table are removed."""
        if self.cache_dir is None:
            return None
        stat = path.stat()
        target = self.cache_dir / f"{name}.{stat.st_size}-{stat.st_mtime_ns}.parquet"
        if not target.is_file():
            table = self._read(name)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            pq.write_table(table, partial, compression="zstd")
            os.replace(partial, target)
            for old in self.cache_dir.glob(f"{name}.*.parquet"):
                if old != target:
                    old.unlink(missing_ok=True)
        return str(target)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB cursor over the case's tables; one thread at a time per cursor."""
        self.open()
        assert self._db is not None
        with self._lock:
            cur = self._db.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
