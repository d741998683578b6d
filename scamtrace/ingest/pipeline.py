"""Ingest sources into a case folder: find each file's format, read, type, append."""

from __future__ import annotations

import gzip
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scamtrace.core import contract
from scamtrace.core.quality import ColumnQuality, below_bar, enforce, tally_batch
from scamtrace.ingest.base import IngestError, ReadContext, Reader, StoppedEarly
from scamtrace.ingest.formats import readers
from scamtrace.ingest.local_times import repeated_hour_count, zone_in_effect
from scamtrace.ingest.writer import CaseAppender, SourceResult, file_hash

Progress = Callable[[str, int], None]


@dataclass
class IngestResult:
    case: Path
    sources: list[SourceResult]
    dry_run: bool

    @property
    def rows(self) -> int:
        """Rows the readers typed (before duplicates are told apart)."""
        return sum(sum(s.rows.values()) for s in self.sources)

    @property
    def added(self) -> int:
        return sum(sum(s.added.values()) for s in self.sources)

    @property
    def duplicates(self) -> int:
        return sum(sum(s.duplicates.values()) for s in self.sources)

    @property
    def rejected(self) -> int:
        return sum(sum(s.rejected.values()) for s in self.sources)

    @property
    def quality(self) -> list[ColumnQuality]:
        """The share of each key column read, per source."""
        return [q for s in self.sources for q in s.quality.values()]

    @property
    def stopped(self) -> list[SourceResult]:
        """Sources read only in part: not recorded as ingested."""
        return [s for s in self.sources if s.stopped]


def check_sources(sources: list[str]) -> None:
    """Fail before anything is locked or written: a source that is not there, or a folder
    with nothing to read in it."""
    for source in sources:
        if source == "-":
            continue
        path = Path(source)
        if path.is_dir():
            if not any(_files(path)):
                raise IngestError(f"{path}: no files to read in this folder (hidden files "
                                  "and folders are skipped)")  # fmt: skip
        elif not path.is_file():
            raise IngestError(f"{path}: no such file or folder")


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts))  # fmt: skip


def expand(sources: list[str], spool: Path) -> Iterator[Path]:
    """Files named, files under folders named (sorted, hidden ones skipped), and stdin for -."""
    for source in sources:
        if source == "-":
            path = spool / "stdin"
            with path.open("wb") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh)
            yield path
            continue
        path = Path(source)
        if path.is_dir():
            yield from sorted(_files(path))
        elif path.is_file():
            yield path
        else:
            raise IngestError(f"{path}: no such file or folder")


def _head(path: Path) -> bytes:
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as fh:
            return fh.read(1 << 16)
    except (EOFError, OSError, zlib.error):
        with path.open("rb") as fh:  # a broken .gz: its first bytes as they are, not all
            return fh.read(1 << 16)


def pick_reader(path: Path, fmt: str | None) -> Reader:
    known = readers()
    if fmt:
        if fmt not in known:
            raise IngestError(f"unknown format {fmt!r}; known: {', '.join(sorted(known))}")
        return known[fmt]
    head = _head(path)
    for reader in known.values():
        if reader.sniff(path, head):
            return reader
    raise IngestError(f"{path}: format not recognised; name it with --format "
                      f"({', '.join(sorted(known))})")  # fmt: skip


def check_options(fmt: str | None, options: dict[str, Any]) -> None:
    """The options a reader will take, checked before any source is read or skipped (a source
    already ingested is never read: a bad option must not pass unseen because of it)."""
    from scamtrace.core import contract
    from scamtrace.ingest.asterisk import time_zone
    from scamtrace.ingest.contract_tables import encoding_option
    from scamtrace.ingest.mapped import load_mapping

    known = readers()
    if fmt and fmt not in known:
        raise IngestError(f"unknown format {fmt!r}; known: {', '.join(sorted(known))}")
    time_zone(options.get("timezone"))
    encoding_option(options.get("encoding"))
    table = options.get("table")
    if table and table not in contract.INPUT_TABLES:
        raise IngestError(f"--table {table}: not a contract table "
                          f"({', '.join(contract.INPUT_TABLES)})")  # fmt: skip
    if options.get("mapping"):
        load_mapping(Path(options["mapping"]))


def ingest(
    sources: list[str],
    into: Path,
    *,
    fmt: str | None = None,
    holder_country: str | None = None,
    options: dict[str, Any] | None = None,
    dry_run: bool = False,
    batch_rows: int = 500_000,
    progress: Progress | None = None,
    strict: bool = False,
) -> IngestResult:
    """Read every source into ``into``; all or nothing (see :mod:`scamtrace.ingest.writer`).

    A source the reader could not read to its end (``Rejected.stops``) keeps the rows read
    before the break but is not recorded as ingested (``SourceResult.stopped``).

    ``strict``: a key column of a source under the quality bar (:mod:`scamtrace.core.quality`)
    fails the whole ingest with :class:`~scamtrace.core.errors.QualityError`; nothing is
    added to the case."""
    say = progress or (lambda _m, _n: None)
    check_options(fmt, options or {})
    check_sources(sources)
    results: list[SourceResult] = []
    with CaseAppender(into, holder_country.upper() if holder_country else None,
                      dry_run=dry_run) as case:  # fmt: skip
        case.sources = results
        country = case.holder_country or ""
        spool = case.spool_dir
        for path in expand(sources, spool):
            label = "-" if path.parent == spool else str(path)
            sha = file_hash(path)
            result = SourceResult(label, sha, "", skipped=case.seen(sha))
            results.append(result)
            if result.skipped:
                continue
            try:
                reader = pick_reader(path, fmt)
            except IngestError as exc:
                result.error = str(exc)
                continue
            result.format = reader.name
            if not country:
                raise IngestError(f"{into}: --holder-country is needed to read national "
                                  "numbers (no holder.json in the case yet)")  # fmt: skip
            ctx = ReadContext(country, label, batch_rows, options or {})
            zone = zone_in_effect(ctx.options)
            try:
                for batch in reader.read(path, ctx):
                    if zone:
                        result.repeated_hour_times += repeated_hour_count(batch.data,
                                                                          batch.table, zone)
                    tally_batch(result.quality, contract.INPUT_TABLES[batch.table], batch.data,
                                ((r.field, r.value) for r in batch.rejected), label)  # fmt: skip
                    case.add(batch, result)
                    say(label, batch.data.num_rows)
            except StoppedEarly as exc:
                # The rows read before the break are kept; the source is not taken as read.
                result.stopped = result.stopped or str(exc)
        done = IngestResult(into, results, dry_run)
        if strict and below_bar(done.quality):
            enforce(done.quality)  # inside the appender: the case is left as it was
    return done
