"""Appending to a case folder atomically, once per source, without duplicates.

Batches are written as Parquet parts into a hidden sibling of the case folder. On commit the
sibling becomes the whole new case: unchanged files are hard links to the old ones, each table
that grew is rewritten as the old rows plus the new rows whose natural key (``call_id``,
``tx_id``...) it did not hold, rejected rows are added to ``rejected/``, and ``ingest.json``
records each source's content hash. Then two renames swap it in. A crash or Ctrl-C before
that leaves the case folder as it was; a source whose hash is recorded is skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from scamtrace import contract
from scamtrace.ingest.base import NATURAL_KEYS, REJECTED_COLUMNS, Batch, IngestError, Rejected

MANIFEST = "ingest.json"

#: Rows of one table up to which the new rows' keys are checked for repeats by 64-bit hashes
#: held in memory (8 bytes a row); past it, by DuckDB over the spooled rows (which may spill
#: to disk).
KEY_HASH_LIMIT = 200_000_000


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read through one small buffer (as fast as mapping the
    file into memory, and safe where the file shrinks meanwhile)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass
class SourceResult:
    source: str
    sha256: str
    format: str
    rows: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: bool = False
    error: str = ""


class CaseAppender:
    """Context manager collecting batches for ``case_dir`` and swapping them in on success."""

    def __init__(self, case_dir: Path, holder_country: str | None, *, dry_run: bool = False):
        self.case = case_dir
        self.holder_country = holder_country
        self.dry_run = dry_run
        self.tmp = case_dir.parent / f".{case_dir.name}.ingest-{os.getpid()}"
        self.parts: dict[str, list[Path]] = {}
        # One spool file a table, written a batch (row group) at a time: memory stays bounded
        # and a table that needs no merging is renamed into the case as it is.
        self.spools: dict[str, pq.ParquetWriter] = {}
        # Parquet is written on a second thread (pyarrow lets go of the GIL), one batch at a
        # time: the next batch is read while the last one is compressed.
        self.writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self.pending: Future[None] | None = None
        # 64-bit hashes of the new rows' natural keys, a table each (None past the limit).
        self.key_hashes: dict[str, list[np.ndarray] | None] = {}
        self.rejected: list[Rejected] = []
        self.sources: list[SourceResult] = []
        self.manifest: dict[str, Any] = self._manifest()

    def _manifest(self) -> dict[str, Any]:
        path = self.case / MANIFEST
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
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        (self.tmp / ".parts").mkdir(parents=True)
        return self

    def add(self, batch: Batch, result: SourceResult) -> None:
        result.rows[batch.table] += batch.data.num_rows
        for r in batch.rejected:
            result.rejected[r.reason] += 1
        self.rejected.extend(batch.rejected)
        if batch.data.num_rows and not self.dry_run:
            if batch.table not in self.spools:
                path = self.tmp / ".parts" / f"{batch.table}.parquet"
                self.parts[batch.table] = [path]
                self.spools[batch.table] = _parquet_writer(path, batch.table)
            self._wait()
            spool = self.spools[batch.table]
            self.pending = self.writing.submit(spool.write_table, batch.data,
                                               row_group_size=1 << 20)  # fmt: skip
            self._hash_keys(batch)

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
        try:
            try:
                self._wait()
            finally:
                self.writing.shutdown(wait=True)
            for spool in self.spools.values():
                spool.close()
            if exc_type is None and not self.dry_run and self._changed():
                self._commit()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _changed(self) -> bool:
        return bool(self.parts or self.rejected or any(not s.skipped for s in self.sources))

    # ------------------------------------------------------------------------------ commit
    def _commit(self) -> None:
        new = self.tmp / "case"
        if self.case.is_dir():
            _link_tree(self.case, new)
        else:
            new.mkdir()
        db = duckdb.connect()
        db.execute("SET TimeZone = 'UTC'")
        for table, parts in self.parts.items():
            self._merge(db, new, table, parts)
        self._write_rejected(new)
        self._write_holder(new)
        self.manifest.setdefault("sources", []).extend(
            {"source": s.source, "sha256": s.sha256, "format": s.format, "rows": dict(s.rows),
             "rejected": sum(s.rejected.values()),
             "ingested_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for s in self.sources if not s.skipped and not s.error
        )  # fmt: skip
        _replace_file(new / MANIFEST, json.dumps(self.manifest, indent=2) + "\n")
        backup = self.case.parent / f".{self.case.name}.old-{os.getpid()}"
        if self.case.exists():
            os.replace(self.case, backup)
        os.replace(new, self.case)
        shutil.rmtree(backup, ignore_errors=True)

    def _merge(self, db: duckdb.DuckDBPyConnection, new: Path, table: str,
               parts: list[Path]) -> None:  # fmt: skip
        schema = contract.INPUT_TABLES[table].schema
        keys = ", ".join(f'"{k}"' for k in NATURAL_KEYS[table])
        cols = ", ".join(f'"{c}"' for c in schema.names)
        sources = [f"SELECT {cols}, 1 AS _rank FROM read_parquet({_list(parts)})"]
        old_parquet, old_csv = new / f"{table}.parquet", new / f"{table}.csv"
        if old_parquet.exists():
            sources.insert(0, f"SELECT {cols}, 0 AS _rank FROM read_parquet('{_q(old_parquet)}')")
        elif old_csv.exists():
            converted = self.tmp / ".parts" / f"{table}-existing.parquet"
            _existing_csv_to_parquet(old_csv, table, converted, self.holder_country or "")
            sources.insert(0, f"SELECT {cols}, 0 AS _rank FROM read_parquet('{_q(converted)}')")
        out = self.tmp / f"{table}.parquet"
        # Distinct hashes prove distinct keys; alike hashes (a repeat, or rarely a collision)
        # are settled exactly.
        twice = not self._keys_distinct(table) and db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM read_parquet({_list(parts)}) "
            f"GROUP BY {keys} HAVING count(*) > 1)").fetchall()[0][0]  # fmt: skip
        if len(sources) == 1 and len(parts) == 1 and not twice:
            os.replace(parts[0], out)  # a new table without repeated keys: as spooled
        else:
            query = db.sql(f"SELECT {cols} FROM ({' UNION ALL '.join(sources)}) "
                           f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _rank) = 1")
            # Streamed, and cast batch by batch to the contract's Arrow types exactly.
            with _parquet_writer(out, table) as sink:
                for batch in query.to_arrow_reader(1 << 20):
                    sink.write_table(pa.Table.from_batches([batch]).cast(schema))
        if old_csv.exists():
            old_csv.unlink()
        if old_parquet.exists():
            old_parquet.unlink()  # a hard link: the old case keeps its file
        os.replace(out, old_parquet)

    def _write_rejected(self, new: Path) -> None:
        if not self.rejected:
            return
        folder = new / "rejected"
        folder.mkdir(exist_ok=True)
        path = folder / "rejected.csv"
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        tmp = folder / ".rejected.csv.tmp"
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            if old:
                fh.write(old)
            w = csv.writer(fh, lineterminator="\n")
            if not old:
                w.writerow(REJECTED_COLUMNS)
            w.writerows([r.source, r.line, r.table, r.field, r.value, r.reason]
                        for r in self.rejected)  # fmt: skip
        if path.exists():
            path.unlink()  # may be a hard link to the old case's file
        os.replace(tmp, path)

    def _write_holder(self, new: Path) -> None:
        path = new / "holder.json"
        if path.exists():
            holder = json.loads(path.read_text(encoding="utf-8"))
        else:
            if not self.holder_country:
                raise IngestError(f"{self.case}: a new case needs --holder-country "
                                  "(the country national numbers belong to)")  # fmt: skip
            holder = {"country": self.holder_country, "tables": {}}
        if self.holder_country and self.holder_country != holder.get("country"):
            tables = holder.setdefault("tables", {})
            for table in self.parts:
                tables.setdefault(table, self.holder_country)
        _replace_file(path, json.dumps(holder, indent=2) + "\n")


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
    """A copy of ``src`` made of hard links (instant, no space), falling back to copies."""
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(root) / name, dst / rel / name)
            except OSError:
                shutil.copy2(Path(root) / name, dst / rel / name)
        dirs[:] = [d for d in dirs if not d.startswith(".")]


def _replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    if path.exists():
        path.unlink()
    os.replace(tmp, path)


def _existing_csv_to_parquet(path: Path, table: str, out: Path, country: str) -> None:
    from scamtrace.ingest.base import ReadContext
    from scamtrace.ingest.contract_tables import READER

    holder_file = path.parent / "holder.json"
    holder: dict[str, Any] = json.loads(holder_file.read_text()) if holder_file.exists() else {}
    tables: dict[str, str] = holder.get("tables") or {}
    ctx = ReadContext(tables.get(table, str(holder.get("country") or country)), str(path))
    batches = [b.data for b in READER.read(path, ctx)]
    pq.write_table(pa.concat_tables(batches) if batches else
                   contract.INPUT_TABLES[table].schema.empty_table(), out)  # fmt: skip


def _list(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{_q(p)}'" for p in paths) + "]"


def _q(path: Path) -> str:
    return str(path).replace("'", "''")
