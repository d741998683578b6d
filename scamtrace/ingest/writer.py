"""Appending to a case folder atomically, once per source, without losing a row.

Under the case's exclusive lock (:mod:`scamtrace.core.casefolder`: a second ingest waits), batches
are spooled as Parquet into the hidden sibling ``.CASE.ingest-PID``, with each row's source
and line beside them, and rejected rows go to a spool CSV there as they come: memory holds a
batch, never every rejected row. On commit ``.CASE.ingest-PID/case`` becomes the whole new
case. Unchanged files are hard links to the old ones, so nothing is ever written in place:
every file that changes is a new file. Each table that grew is the old rows plus the new
rows whose natural key (``call_id``, ``tx_id``...) it did not hold; a new row whose key is
there already is a *duplicate* when its values are the same, and is set aside in
``rejected/`` when they are not (the first kept). Rejected rows are appended to a copy of
``rejected/rejected.csv``. ``ingest.json`` records the content hash of each source read to
its end; a source the reader could not read to its end is listed apart, as incomplete, and
is read again next time. Then the new case is flushed to disk and swapped in whole
(:func:`scamtrace.core.casefolder.swap_in`). A crash, a kill or an error before that leaves the
case as it was; the next run removes what was left.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scamtrace.core import contract
from scamtrace.core.casefolder import (
    Staging,
    case_lock,
    fault,
    os_error,
    read_holder,
    replace_file,
    write_holder,
)
from scamtrace.core.formulas import neutral
from scamtrace.core.quality import ColumnQuality
from scamtrace.core.sql import literal
from scamtrace.ingest.base import NATURAL_KEYS, REJECTED_COLUMNS, Batch, IngestError, Rejected

MANIFEST = "ingest.json"
#: Where a case folder keeps the rows ingest set aside, relative to the folder.
REJECTED_FILE = Path("rejected") / "rejected.csv"

#: Rows of one table up to which the new rows' keys are checked for repeats by 64-bit hashes
#: held in memory (8 bytes a row); past it, by DuckDB over the spooled rows (which may spill
#: to disk).
KEY_HASH_LIMIT = 200_000_000

#: Where each spooled row came from: the index of its source in the run, and its line.
_ORIGIN = pa.schema([("_src", pa.int32()), ("_line", pa.int64())])

log = logging.getLogger(__name__)


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read through one small buffer (as fast as mapping the
    file into memory, and safe where the file shrinks meanwhile)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class SourceResult:
    """What became of one source: rows by table (read, added, duplicates, set aside because
    their key was in the case with other values) and rejected rows by reason."""

    source: str
    sha256: str
    format: str
    rows: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    skipped: bool = False
    error: str = ""
    #: Where and why the reader stopped before the end of the source ("" if it did not).
    stopped: str = ""
    #: How much of each key column was read, by (table, column).
    quality: dict[tuple[str, str], ColumnQuality] = field(default_factory=dict)
    #: Times without an offset in the hour the local clock repeats, read as its second time.
    repeated_hour_times: int = 0

    @property
    def read(self) -> int:
        """Rows read: typed, or set aside by the reader (each is counted once)."""
        return sum(self.rows.values()) + sum(self.rejected.values()) - \
            sum(self.conflicts.values())  # fmt: skip


@dataclass
class _Spool:
    rows: Path
    origin: Path
    writer: pq.ParquetWriter
    origin_writer: pq.ParquetWriter

    def write(self, data: pa.Table, origin: pa.Table) -> None:
        self.writer.write_table(data, row_group_size=1 << 20)
        self.origin_writer.write_table(origin, row_group_size=1 << 20)

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            self.origin_writer.close()


class CaseAppender:
    """Context manager collecting batches for ``case_dir`` and swapping them in on success."""

    def __init__(self, case_dir: Path, holder_country: str | None, *, dry_run: bool = False):
        self.case = case_dir
        self.holder_country = holder_country
        self.dry_run = dry_run
        # A dry run writes nothing: it reads the case under its shared lock and spools
        # nothing but stdin, in a temporary folder.
        self._staging = None if dry_run else Staging(case_dir, "ingest", option="--into",
                                                     purpose="scamtrace ingest")  # fmt: skip
        self.target = self._staging.target if self._staging else case_dir
        self.tmp = self._staging.root if self._staging else case_dir
        self._reading = contextlib.ExitStack()
        #: The case's holder.json, read with the rest of its snapshot (None: a new case).
        self.holder: dict[str, Any] | None = None
        self.parts: dict[str, _Spool] = {}
        # Parquet is written on a second thread (pyarrow lets go of the GIL), one batch at a
        # time: the next batch is read while the last one is compressed.
        self.writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self.pending: Future[None] | None = None
        # 64-bit hashes of the new rows' natural keys, a table each (None past the limit).
        self.key_hashes: dict[str, list[np.ndarray] | None] = {}
        self._rejected: IO[str] | None = None
        self._rejected_writer: Any = None
        self.rejected_rows = 0
        self.sources: list[SourceResult] = []
        self.manifest: dict[str, Any] = {"sources": []}

    @property
    def spool_dir(self) -> Path:
        """Where the run may keep files it reads (stdin): removed with the run."""
        return self.tmp / ".parts"

    def _manifest(self) -> dict[str, Any]:
        path = self.target / MANIFEST
        if not path.is_file():
            return {"sources": []}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise IngestError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from exc
        return data if isinstance(data, dict) else {"sources": []}

    def seen(self, sha256: str) -> bool:
        return any(s.get("sha256") == sha256 for s in self.manifest.get("sources", [])) or any(
            s.sha256 == sha256 and not s.skipped for s in self.sources
        )

    def __enter__(self) -> CaseAppender:
        if self.case.exists() and not self.case.is_dir():
            raise IngestError(f"{self.case}: exists and is not a folder")
        try:
            if self._staging is not None:
                self.tmp = self._staging.open()  # locked, and what a killed run left put right
            else:
                if self.case.is_dir():
                    self._reading.enter_context(case_lock(self.case, shared=True,
                                                          purpose="scamtrace ingest --dry-run"))
                self.tmp = Path(tempfile.mkdtemp(prefix="scamtrace-ingest-"))
            # The snapshot every decision builds on, read under the lock.
            self.manifest = self._manifest()
            self.holder = read_holder(self.target)
            self.holder_country = (self.holder_country or str((self.holder or {}).get("country")
                                                              or "")).upper() or None  # fmt: skip
            self.spool_dir.mkdir()
        except BaseException as exc:
            self._clean_up()
            if isinstance(exc, OSError):
                raise os_error(exc, self.tmp, f"ingesting into {self.case}") from exc
            raise
        return self

    def add(self, batch: Batch, result: SourceResult) -> None:
        n = batch.data.num_rows
        result.rows[batch.table] += n
        if batch.rejected:
            result.rejected.update(r.reason for r in batch.rejected)
            stop = next((r for r in batch.rejected if r.stops), None)
            if stop is not None and not result.stopped:
                result.stopped = f"line {stop.line}: {stop.reason}"
            if not self.dry_run:
                self._spool_rejected(batch.rejected)
        if n and not self.dry_run:
            spool = self.parts.get(batch.table)
            if spool is None:
                spool = self.parts[batch.table] = self._spool(batch.table)
            lines = batch.lines if batch.lines is not None and len(batch.lines) == n else \
                pa.nulls(n, pa.int64())  # fmt: skip
            origin = pa.table([pa.array(np.full(n, self._index(result), np.int32)),
                               lines.cast(pa.int64())], schema=_ORIGIN)  # fmt: skip
            self._wait()
            self.pending = self.writing.submit(spool.write, batch.data, origin)
            self._hash_keys(batch)
            fault("ingest:spooled")

    def _index(self, result: SourceResult) -> int:
        for i, s in enumerate(self.sources):
            if s is result:
                return i
        self.sources.append(result)
        return len(self.sources) - 1

    def _spool(self, table: str) -> _Spool:
        rows = self.spool_dir / f"{table}.parquet"
        origin = self.spool_dir / f"{table}.origin.parquet"
        writer = _parquet_writer(rows, table)
        return _Spool(rows, origin, writer, pq.ParquetWriter(origin, _ORIGIN, compression="zstd"))

    def _spool_rejected(self, rejected: Iterable[Rejected]) -> None:
        """Rejected rows onto the spool file as they come; every text made inert for a
        spreadsheet (:func:`scamtrace.core.formulas.neutral`): a source's values are the
        other side's."""
        if self._rejected is None:
            self._rejected = (self.spool_dir / REJECTED_FILE.name).open("w", encoding="utf-8",
                                                                    newline="")  # fmt: skip
            self._rejected_writer = csv.writer(self._rejected, lineterminator="\n")
        count = 0
        for r in rejected:
            self._rejected_writer.writerow((neutral(r.source), r.line, neutral(r.table),
                                            neutral(r.field), neutral(r.value),
                                            neutral(r.reason)))  # fmt: skip
            count += 1
        self.rejected_rows += count

    def _wait(self) -> None:
        """Wait for the batch being written; its error, if any, is raised here."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def _hash_keys(self, batch: Batch) -> None:
        hashes = self.key_hashes.setdefault(batch.table, [])
        if hashes is None:
            return
        if sum(len(h) for h in hashes) + batch.data.num_rows > KEY_HASH_LIMIT:
            self.key_hashes[batch.table] = None
            return
        keys = pl.from_arrow(batch.data.select(list(NATURAL_KEYS[batch.table])))
        assert isinstance(keys, pl.DataFrame)
        hashes.append(key_hashes(keys))

    def _keys_distinct(self, table: str) -> bool:
        """True when no two new rows of ``table`` have the same natural key, as their hashes
        prove; False when that is not known (two hashes alike, or too many rows to hold)."""
        hashes = self.key_hashes.get(table)
        if not hashes:
            return False
        # Polars counts distinct integers by a radix sort: half the time of numpy's sort.
        values = np.concatenate(hashes)
        return bool(pl.Series(values).n_unique() == len(values))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failure = exc
        try:
            try:
                self._wait()
            except BaseException as err:
                failure = failure or err  # the first error is the one to tell
            finally:
                self.writing.shutdown(wait=True)
            for spool in self.parts.values():
                try:
                    spool.close()
                except BaseException as err:
                    failure = failure or err
            if failure is None and not self.dry_run and self._changed():
                try:
                    self._commit()
                except BaseException as err:
                    failure = err
        finally:
            self._clean_up()
        if failure is None or (failure is exc and not isinstance(exc, OSError)):
            return  # success, or the caller's own error goes on as it is
        if isinstance(failure, OSError):
            # A full disk and the like: the case is as it was; say where, in one line.
            raise os_error(failure, self.tmp, f"ingesting into {self.case}") from failure
        raise failure

    def _clean_up(self) -> None:
        if self._rejected is not None:
            with contextlib.suppress(OSError):
                self._rejected.close()
            self._rejected = None
        if self._staging is not None:
            self._staging.abandon()  # after a commit, only lets go of the lock
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._reading.close()

    def _changed(self) -> bool:
        return bool(self.parts or self.rejected_rows or any(not s.skipped for s in self.sources))

    # ------------------------------------------------------------------------------ commit
    def _commit(self) -> None:
        assert self._staging is not None
        new = self.tmp / "case"
        if self.target.is_dir():
            _link_tree(self.target, new)
        else:
            new.mkdir()
        db = duckdb.connect()
        try:
            db.execute("SET TimeZone = 'UTC'")
            db.execute(f"SET temp_directory = {literal(self.tmp / '.duckdb')}")
            for table in self.parts:
                self._merge(db, new, table)
                fault("ingest:merged")
        except duckdb.Error as exc:
            what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IngestError(f"{self.case}: could not merge the new rows: {what}") from exc
        finally:
            db.close()
        self._write_rejected(new)
        self._write_holder(new)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for s in self.sources:
            if s.skipped or s.error:
                continue
            entry = {"source": s.source, "sha256": s.sha256, "format": s.format,
                     "rows": dict(s.rows), "added": dict(s.added),
                     "duplicates": dict(s.duplicates), "rejected": sum(s.rejected.values()),
                     "ingested_at": now}  # fmt: skip
            if s.repeated_hour_times:
                entry["repeated_hour_times"] = s.repeated_hour_times
            if s.stopped:
                # Read only in part: listed, never as ingested, so the next run reads it again.
                self.manifest.setdefault("incomplete", []).append({**entry, "stopped": s.stopped})
            else:
                self.manifest.setdefault("sources", []).append(entry)
        manifest = json.dumps(self.manifest, indent=2) + "\n"
        replace_file(new / MANIFEST, lambda tmp: tmp.write_text(manifest, encoding="utf-8"))
        self._staging.commit(new)

    def _merge(self, db: duckdb.DuckDBPyConnection, new: Path, table: str) -> None:
        spool = self.parts[table]
        keys = ", ".join(f'"{k}"' for k in NATURAL_KEYS[table])
        old_parquet, old_csv = new / f"{table}.parquet", new / f"{table}.csv"
        old: Path | None = None
        if old_parquet.exists():
            old = old_parquet
        elif old_csv.exists():
            old = self.spool_dir / f"{table}-existing.parquet"
            self._existing_csv_to_parquet(old_csv, table, old)
        # Distinct hashes prove distinct keys; alike hashes (a repeat, or rarely a collision)
        # are settled exactly.
        twice = not self._keys_distinct(table) and bool(db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM read_parquet({literal(spool.rows)}) "
            f"GROUP BY {keys} HAVING count(*) > 1)").fetchall()[0][0])  # fmt: skip
        out = self.tmp / f"{table}.parquet"
        if old is None and not twice:
            os.replace(spool.rows, out)  # a new table without repeated keys: as spooled
            for s in self.sources:
                s.added[table] += s.rows[table]
        else:
            self._merge_rows(db, table, spool, old, out, twice)
        if old_csv.exists():
            old_csv.unlink()
        if old_parquet.exists():
            old_parquet.unlink()  # a hard link: the old case keeps its file
        os.replace(out, old_parquet)

    def _merge_rows(self, db: duckdb.DuckDBPyConnection, table: str, spool: _Spool,
                    old: Path | None, out: Path, twice: bool) -> None:  # fmt: skip
        """``out``: the old rows, then each new row whose key is in neither the old rows nor
        an earlier new row. The others are duplicates where some row kept under their key has
        the same values, and set aside where none has. Set-wise throughout (DuckDB)."""
        schema = contract.INPUT_TABLES[table].schema
        names = NATURAL_KEYS[table]
        cols = ", ".join(f'"{c}"' for c in schema.names)
        on = " AND ".join(f'a."{k}" = b."{k}"' for k in names)
        rows = f"read_parquet({literal(spool.rows)}, file_row_number = true)"
        keys = ", ".join(f'"{k}"' for k in names)
        # The first of the new rows under a key is the one kept (the file's order).
        rank = f"row_number() OVER (PARTITION BY {keys} ORDER BY file_row_number)" if twice \
            else "1"  # fmt: skip
        ranked = f"(SELECT *, file_row_number AS _pos, {rank} AS _rn FROM {rows})"
        in_old = "false"
        if old is not None:
            present = pq.read_schema(old)
            # A hand-made case may lack optional columns: they are empty, not an error.
            old_cols = ", ".join(f'"{c}"' if c in present.names else f'NULL AS "{c}"'
                                 for c in schema.names)  # fmt: skip
            db.execute(f"CREATE OR REPLACE TEMP VIEW old_rows AS SELECT {old_cols} "
                       f"FROM read_parquet({literal(old)})")  # fmt: skip
            in_old = f"EXISTS (SELECT 1 FROM old_rows b WHERE {on})"
        others_path = self.spool_dir / f"{table}.others.parquet"
        others: pq.ParquetWriter | None = None
        with _parquet_writer(out, table) as sink:
            if old is not None and present.remove_metadata().equals(schema):
                for part in pq.ParquetFile(old).iter_batches(1 << 20):  # as it is, no SQL
                    sink.write_table(pa.Table.from_batches([part]))
            elif old is not None:
                for part in db.sql("SELECT * FROM old_rows").to_arrow_reader(1 << 20):
                    sink.write_table(pa.Table.from_batches([part]).cast(schema))
            # One pass over the new rows: each kept (streamed, cast batch by batch to the
            # contract's Arrow types exactly) or spooled for judging (few, as a rule: a file
            # ingested twice, an overlapping export).
            flagged = db.sql(f"SELECT {cols}, _pos, _in_old, _rn = 1 AND NOT _in_old AS _keep "
                             f"FROM (SELECT *, {in_old} AS _in_old FROM {ranked} a)")  # fmt: skip
            for part in flagged.to_arrow_reader(1 << 20):
                batch = pa.Table.from_batches([part])
                keep = batch.column("_keep")
                sink.write_table(batch.filter(keep).select(schema.names).cast(schema))
                rest = batch.filter(pc.invert(keep)).drop_columns(["_keep"])
                if rest.num_rows:
                    if others is None:
                        others = pq.ParquetWriter(others_path, rest.schema)
                    others.write_table(rest)
        if others is None:
            for s in self.sources:
                s.added[table] += s.rows[table]
            return
        others.close()
        db.execute(f"CREATE OR REPLACE TEMP VIEW others AS SELECT * "
                   f"FROM read_parquet({literal(others_path)})")  # fmt: skip
        same = " AND ".join(f'a."{c}" IS NOT DISTINCT FROM b."{c}"' for c in schema.names)
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE judged AS
            SELECT a._pos, any_value(a._in_old) AS _in_old, bool_or({same}) AS _same,
                   concat_ws(';', {', '.join(f'any_value(a."{k}")' for k in names)}) AS _key
            FROM others a JOIN read_parquet({literal(out)}) b ON {on} GROUP BY a._pos
        """)  # fmt: skip
        origin = f"read_parquet({literal(spool.origin)}, file_row_number = true)"
        counts = db.execute(f"""
            SELECT o._src, j._same, j._in_old, count(*) FROM judged j
            JOIN {origin} o ON o.file_row_number = j._pos GROUP BY ALL
        """).fetchall()  # fmt: skip
        field = ";".join(names)
        said = " and ".join(names)
        reasons = {True: f"{said} already in the case with other values (first kept)",
                   False: f"{said} repeated with other values (first kept)"}  # fmt: skip
        not_added: Counter[int] = Counter()
        for src, is_same, was_old, n in counts:
            result = self.sources[int(src)]
            not_added[int(src)] += int(n)
            if is_same:
                result.duplicates[table] += int(n)
            else:
                result.conflicts[table] += int(n)
                result.rejected[reasons[bool(was_old)]] += int(n)
        for i, s in enumerate(self.sources):
            if s.rows[table]:
                s.added[table] += s.rows[table] - not_added[i]
        if any(not is_same for _src, is_same, _old, _n in counts):
            conflicts = db.execute(f"""
                SELECT o._src, coalesce(o._line, 0), j._key, j._in_old FROM judged j
                JOIN {origin} o ON o.file_row_number = j._pos WHERE NOT j._same
                ORDER BY o._src, o._line, j._pos
            """)  # fmt: skip
            while chunk := conflicts.fetchmany(100_000):
                self._spool_rejected(Rejected(self.sources[int(src)].source, int(line), table,
                                              field, str(key), reasons[bool(was_old)])
                                     for src, line, key, was_old in chunk)  # fmt: skip

    def _existing_csv_to_parquet(self, path: Path, table: str, out: Path) -> None:
        """The case's own CSV table as Parquet, streamed; its rows that do not read are set
        aside in ``rejected/`` (they were in the case; they never vanish)."""
        from scamtrace.ingest.base import ReadContext
        from scamtrace.ingest.contract_tables import READER

        holder = self.holder or {}
        tables: dict[str, str] = holder.get("tables") or {}
        country = tables.get(table, str(holder.get("country") or self.holder_country or ""))
        ctx = ReadContext(country, str(self.target / path.name))
        with _parquet_writer(out, table) as sink:
            for batch in READER.read(path, ctx):
                if batch.data.num_rows:
                    sink.write_table(batch.data)
                if batch.rejected:
                    log.warning("%s: %d rows of the case's own table set aside in rejected/",
                                ctx.source, len(batch.rejected))  # fmt: skip
                    self._spool_rejected(batch.rejected)

    def _write_rejected(self, new: Path) -> None:
        """Append the spool to a copy of ``rejected/rejected.csv``: the case's file is a hard
        link to the old case's, so it is never opened for writing; and no file is read into
        memory, however large."""
        if self._rejected is None or not self.rejected_rows:
            return
        self._rejected.close()
        self._rejected = None
        path = new / REJECTED_FILE
        path.parent.mkdir(exist_ok=True)

        def append(tmp: Path) -> None:
            with tmp.open("wb") as out:
                if path.exists() and path.stat().st_size:
                    with path.open("rb") as old:
                        shutil.copyfileobj(old, out, 1 << 20)
                        old.seek(-1, os.SEEK_END)
                        if old.read(1) != b"\n":
                            out.write(b"\n")
                else:
                    out.write((",".join(REJECTED_COLUMNS) + "\n").encode())
                with (self.spool_dir / REJECTED_FILE.name).open("rb") as spool:
                    shutil.copyfileobj(spool, out, 1 << 20)

        replace_file(path, append)

    def _write_holder(self, new: Path) -> None:
        holder = copy.deepcopy(self.holder)  # as the case has it: the staging copy's
        if holder is None:
            if not self.holder_country:
                raise IngestError(f"{self.case}: a new case needs --holder-country "
                                  "(the country national numbers belong to)")  # fmt: skip
            holder = {"country": self.holder_country, "tables": {}}
        if self.holder_country and self.holder_country != holder.get("country"):
            tables = holder.setdefault("tables", {})
            for table in self.parts:
                tables.setdefault(table, self.holder_country)
        write_holder(new, holder)


def key_hashes(keys: pl.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row of ``keys`` (Polars' hash: stable within a process only)."""
    if keys.width == 1:
        return np.asarray(keys.to_series().hash().to_numpy(), dtype=np.uint64)
    return np.asarray(keys.hash_rows().to_numpy(), dtype=np.uint64)


def _parquet_writer(path: Path, table: str) -> pq.ParquetWriter:
    """A zstd Parquet writer for a contract table. Identifiers and phone numbers are nearly
    all distinct: dictionary-encoding them costs time and saves nothing, so only the other
    columns (trunks, countries, statuses, accounts) are. Min/max statistics, which let a
    reader skip row groups by time or amount, are kept for typed columns only."""
    spec = contract.INPUT_TABLES[table]
    plain = {c.name for c in spec.columns if c.kind in ("phone", "time", "text")}
    plain |= set(NATURAL_KEYS[table])
    coded = [name for name in spec.schema.names if name not in plain]
    ranged = [c.name for c in spec.columns if c.kind in ("time", "date", "int", "decimal")]
    return pq.ParquetWriter(path, spec.schema, compression="zstd", use_dictionary=coded,
                            write_statistics=ranged or False)  # fmt: skip


def _link_tree(src: Path, dst: Path) -> None:
    """A copy of ``src`` made of hard links (instant, no space), falling back to copies.
    Every file that is to change is replaced by a new file, never written through a link."""
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(root) / name, dst / rel / name)
            except OSError:
                shutil.copy2(Path(root) / name, dst / rel / name)
        dirs[:] = [d for d in dirs if not d.startswith(".")]


