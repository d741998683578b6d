"""Ingest under attack (issue 21): two writers at once, sources read only in part, keys
ingested again with other values, rejections by the million, empty folders, full disks."""

from __future__ import annotations

import csv
import errno
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core import contract
from scamtrace.core.casefolder import case_lock
from scamtrace.core.errors import ScamtraceError
from scamtrace.ingest import pipeline, writer
from scamtrace.ingest.base import Batch, ReadContext, Rejected
from scamtrace.ingest.pipeline import ingest

TRANSFERS = "tx_id,time,payer_account,payee_account,amount,currency,channel\n"


def _rows(prefix: str, n: int, start: int = 0) -> str:
    return "".join(f"{prefix}{i},2016-07-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z,a{i},b{i % 7},"
                   f"{i % 997 + 1}.50,CNY,online\n" for i in range(start, start + n))  # fmt: skip


def _source(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TRANSFERS + body, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _ids(case: Path) -> list[str]:
    return [str(x) for x in pq.read_table(case / "transfers.parquet").column("tx_id").to_pylist()]


def _manifest(case: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((case / "ingest.json").read_text(encoding="utf-8"))
    return data


def _shas(case: Path) -> list[str]:
    sources = _manifest(case)["sources"]
    assert isinstance(sources, list)
    return [str(s["sha256"]) for s in sources]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)  # fmt: skip


def _leftovers(folder: Path) -> list[str]:
    """Hidden files beside the case: staging folders, a lock file."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- item 1: lock
def test_two_ingests_into_one_case_at_once_lose_nothing(tmp_path: Path) -> None:
    """Both run to the end; the second waits for the first and builds on its commit."""
    n = 120_000
    a = _source(tmp_path / "a" / "transfers.csv", _rows("A", n))
    b = _source(tmp_path / "b" / "transfers.csv", _rows("B", n))
    case = tmp_path / "case"
    runs = [subprocess.Popen([sys.executable, "-m", "scamtrace.cli", "ingest", str(s), "--into",
                              str(case), "--holder-country", "CN"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for s in (a, b)]  # fmt: skip
    outputs = [r.communicate(timeout=180) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    ids = _ids(case)
    assert len(ids) == len(set(ids)) == 2 * n
    assert sorted(_shas(case)) == sorted([_sha(a), _sha(b)])
    assert _leftovers(tmp_path) == []


def test_a_writer_that_may_not_wait_fails_naming_the_case_and_the_holder(tmp_path: Path) -> None:
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("A", 5)))], case,
           holder_country="CN")  # fmt: skip
    before = _snapshot(case)
    other = _source(tmp_path / "b" / "transfers.csv", _rows("B", 5))
    with case_lock(case, purpose="test holder"):
        run = _cli("ingest", str(other), "--into", str(case), env={"SCAMTRACE_LOCK_WAIT": "0"})
    assert run.returncode == 2, run.stderr
    message = " ".join(run.stderr.split())
    assert str(case) in message and f"pid {os.getpid()}" in message, run.stderr
    assert "Traceback" not in run.stderr
    assert _snapshot(case) == before


# ------------------------------------------------------------------ item 2: swap and recovery
def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_a_case_left_aside_between_the_two_renames_is_put_back(tmp_path: Path) -> None:
    """A kill between ``case -> .case.old-PID`` and ``new -> case`` left no case folder: the
    next ingest puts the old case back and appends to it, rather than starting a new case."""
    case = tmp_path / "case"
    first = _source(tmp_path / "a" / "transfers.csv", _rows("A", 50))
    ingest([str(first)], case, holder_country="CN")
    pid = _dead_pid()
    case.rename(tmp_path / f".case.old-{pid}")
    (tmp_path / f".case.ingest-{pid}" / "case").mkdir(parents=True)  # the new one, half made
    second = _source(tmp_path / "b" / "transfers.csv", _rows("B", 30))
    ingest([str(second)], case, holder_country="CN")
    assert sorted(_ids(case)) == sorted([f"A{i}" for i in range(50)] + [f"B{i}" for i in range(30)])
    assert sorted(_shas(case)) == sorted([_sha(first), _sha(second)])
    assert _leftovers(tmp_path) == []


def test_a_live_writers_folder_is_never_removed(tmp_path: Path) -> None:
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("A", 5)))], case,
           holder_country="CN")  # fmt: skip
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            theirs = tmp_path / f".case.ingest-{live.pid}"
            (theirs / ".parts").mkdir(parents=True)
            ingest([str(_source(tmp_path / "b" / "transfers.csv", _rows("B", 5)))], case)
            assert theirs.is_dir()
        finally:
            live.kill()
    assert len(_ids(case)) == 10


def test_the_old_case_is_never_changed_through_a_hard_link(tmp_path: Path) -> None:
    """The new case is built of hard links to the old one's files: every file that changes
    must be a new file, never the shared one written in place."""
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("A", 20) + ",x,,,,,\n"))], case,
           holder_country="CN")  # fmt: skip
    keep = tmp_path / "keep"
    keep.mkdir()
    names = [p.relative_to(case) for p in case.rglob("*") if p.is_file()]
    for name in names:
        (keep / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(case / name, keep / name)  # same inodes as the case's files
    before = _snapshot(keep)
    ingest([str(_source(tmp_path / "b" / "transfers.csv", _rows("B", 20) + ",y,,,,,\n"))], case)
    assert _snapshot(keep) == before
    assert len(_ids(case)) == 40


# -------------------------------------------------------------------------- item 3: apart
def test_ingest_into_the_current_folder_is_a_clear_error(tmp_path: Path) -> None:
    source = _source(tmp_path / "src" / "transfers.csv", _rows("A", 3))
    (tmp_path / "case").mkdir()
    run = subprocess.run([sys.executable, "-m", "scamtrace.cli", "ingest", str(source),
                          "--into", ".", "--holder-country", "CN"], capture_output=True,
                         text=True, cwd=tmp_path / "case")  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "current folder" in run.stderr
    assert list((tmp_path / "case").iterdir()) == []


def test_ingest_into_a_source_folder_is_refused(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    _source(exports / "transfers.csv", _rows("A", 3))
    for into in (exports, exports / "case"):
        run = _cli("ingest", str(exports), "--into", str(into), "--holder-country", "CN")
        assert run.returncode == 2 and "--into" in run.stderr, run.stderr
    assert sorted(p.name for p in exports.iterdir()) == ["transfers.csv"]


# ------------------------------------------------------------ item 4: sources read in part
def test_a_truncated_source_is_never_recorded_as_ingested(tmp_path: Path) -> None:
    whole = gzip.compress((TRANSFERS + _rows("T", 20_000)).encode())
    source = tmp_path / "src" / "transfers.csv.gz"
    source.parent.mkdir()
    source.write_bytes(whole[: len(whole) * 2 // 3])
    case = tmp_path / "case"
    run = _cli("ingest", str(source), "--into", str(case), "--holder-country", "CN")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not recorded" in " ".join(run.stdout.split())
    kept = len(_ids(case))
    assert 0 < kept < 20_000  # the rows before the break are kept
    assert _shas(case) == []
    assert [s["sha256"] for s in _manifest(case)["incomplete"]] == [_sha(source)]  # type: ignore[union-attr]
    again = ingest([str(source)], case)  # read again, not "already ingested"
    (result,) = again.sources
    assert not result.skipped and result.stopped
    assert sum(result.duplicates.values()) == kept and sum(result.added.values()) == 0


class _StopsReader:
    """A reader that gives one batch, then meets something it cannot read past."""

    name = "stops"
    description = "test reader"

    def sniff(self, path: Path, head: bytes) -> bool:
        return True

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        data = pa.table({"tx_id": ["S1"], "time": ["2016-07-01T10:00:00Z"],
                         "payer_account": ["a"], "payee_account": ["b"], "amount": ["1.00"],
                         "currency": ["CNY"], "channel": ["online"]})  # fmt: skip
        table = data.cast(pa.schema([(n, pa.string()) for n in data.column_names]))
        from scamtrace.ingest.base import coerce, text_table

        yield coerce("transfers", text_table({n: table.column(n).combine_chunks()
                                              for n in table.column_names}, [2]), ctx.source,
                     ctx.holder_country)  # fmt: skip
        yield Batch("transfers", contract.TRANSFERS.schema.empty_table(),
                    [Rejected(ctx.source, 3, "transfers", "", "", "a field of 16 MB; the rest "
                              "of the file was not read", stops=True)])  # fmt: skip


def test_a_reader_that_stops_early_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "pick_reader", lambda path, fmt: _StopsReader())
    source = tmp_path / "x.dat"
    source.write_text("whatever")
    case = tmp_path / "case"
    result = ingest([str(source)], case, holder_country="CN")
    assert result.sources[0].stopped and _ids(case) == ["S1"]
    assert _shas(case) == []


# ------------------------------------------------------- item 5: same key, other content
def test_a_key_already_in_the_case_with_other_values_is_set_aside(tmp_path: Path) -> None:
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("T", 3)))], case,
           holder_country="CN")  # fmt: skip
    lines = _rows("T", 3).splitlines()
    changed = lines[1].replace(",2.50,", ",9999.00,")
    body = "\n".join([lines[0], changed, "T7,2016-07-02T10:00:00Z,a,b,7.00,CNY,online",
                      "T7,2016-07-02T10:00:00Z,a,b,7.00,CNY,online",
                      "T7,2016-07-02T10:00:00Z,a,b,8.00,CNY,online"]) + "\n"  # fmt: skip
    second = _source(tmp_path / "b" / "transfers.csv", body)
    run = CliRunner().invoke(app, ["ingest", str(second), "--into", str(case)])
    assert run.exit_code == 0, run.output
    table = pq.read_table(case / "transfers.parquet").to_pylist()
    assert sorted(str(r["tx_id"]) for r in table) == ["T0", "T1", "T2", "T7"]
    t1 = next(r for r in table if r["tx_id"] == "T1")
    assert str(t1["amount"]) == "2.50"  # the first kept
    t7 = next(r for r in table if r["tx_id"] == "T7")
    assert str(t7["amount"]) == "7.00"
    with (case / "rejected" / "rejected.csv").open(encoding="utf-8", newline="") as fh:
        rejected = [(r["source"], r["line"], r["field"], r["value"], r["reason"])
                    for r in csv.DictReader(fh)]  # fmt: skip
    assert rejected == [
        (str(second), "3", "tx_id", "T1", "tx_id already in the case with other values "
         "(first kept)"),
        (str(second), "6", "tx_id", "T7", "tx_id repeated with other values (first kept)"),
    ]
    result = ingest([str(second)], tmp_path / "dry", holder_country="CN", dry_run=True)
    assert sum(result.sources[0].rows.values()) == 5
    words = " ".join(run.output.split())
    assert "added" in words and "duplicate" in words
    (s,) = _manifest(case)["sources"][1:]  # type: ignore[index]
    assert s["added"] == {"transfers": 1} and s["duplicates"] == {"transfers": 2}


def test_the_summary_counts_rows_added_not_rows_read(tmp_path: Path) -> None:
    case = tmp_path / "case"
    source = _source(tmp_path / "a" / "transfers.csv", _rows("T", 10))
    ingest([str(source)], case, holder_country="CN")
    overlap = _source(tmp_path / "b" / "transfers.csv", _rows("T", 10) + _rows("T", 2, 10))
    result = ingest([str(overlap)], case)
    assert result.rows == 12 and result.added == 2 and result.duplicates == 10


# --------------------------------------------------------------- item 6: rejections on disk
class _JunkReader:
    """Many batches of rows that cannot be read: only rejections."""

    name = "junk"
    description = "test reader"
    batches = 40
    per_batch = 5_000

    def sniff(self, path: Path, head: bytes) -> bool:
        return True

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        empty = contract.TRANSFERS.schema.empty_table()
        for b in range(self.batches):
            first = b * self.per_batch + 2
            yield Batch("transfers", empty, [Rejected(ctx.source, first + i, "transfers",
                                                      "tx_id", "", "missing")
                                             for i in range(self.per_batch)])  # fmt: skip


def test_rejections_are_streamed_to_disk_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("A", 3) + ",,,,,,\n"))], case,
           holder_country="CN")  # fmt: skip
    # An old rejected.csv of some size: appending must not read it into memory either.
    old = case / "rejected" / "rejected.csv"
    padding = "".join(f"old,{i},transfers,tx_id,,missing\n" for i in range(300_000))
    old.write_text(old.read_text(encoding="utf-8") + padding, encoding="utf-8")
    monkeypatch.setattr(pipeline, "pick_reader", lambda path, fmt: _JunkReader())
    junk = tmp_path / "junk.dat"
    junk.write_text("junk")
    tracemalloc.start()
    try:
        result = ingest([str(junk)], case)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = _JunkReader.batches * _JunkReader.per_batch
    assert result.rejected == total and result.sources[0].rejected == {"missing": total}
    assert peak < 12 * 2**20, f"{peak / 2**20:.1f} MiB"  # a batch or two, not 200,000 rows
    with old.open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == 1 + 1 + 300_000 + total


def test_the_contract_reader_hands_rejections_on_as_it_goes(tmp_path: Path) -> None:
    """Short rows fit a pyarrow block by the million: they are typed, and their rejections
    handed on, a typing part at a time, never all held to the end of the file."""
    from scamtrace.ingest.base import TYPING_ROWS
    from scamtrace.ingest.contract_tables import READER

    n = 3 * TYPING_ROWS + 7
    source = _source(tmp_path / "transfers.csv", ",,,,,,\n" * n)
    sizes = [len(b.rejected) for b in READER.read(source, ReadContext("CN", str(source)))]
    assert sum(sizes) == n and max(sizes) <= TYPING_ROWS, sizes


def test_rejected_values_cannot_run_in_a_spreadsheet(tmp_path: Path) -> None:
    source = _source(tmp_path / "a" / "transfers.csv",
                     "=HYPERLINK(1),not a time,a,b,1,CNY,online\n")  # fmt: skip
    case = tmp_path / "case"
    ingest([str(source)], case, holder_country="CN")
    with (case / "rejected" / "rejected.csv").open(encoding="utf-8", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["value"] == "not a time"
    source2 = _source(tmp_path / "b" / "transfers.csv", "t1,=1+2,a,b,1,CNY,online\n")
    ingest([str(source2)], case)
    with (case / "rejected" / "rejected.csv").open(encoding="utf-8", newline="") as fh:
        values = [r["value"] for r in csv.DictReader(fh)]
    assert values == ["not a time", "'=1+2"]


# -------------------------------------------------------------------- item 7: nothing read
def test_ingesting_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "exports"
    empty.mkdir()
    (empty / ".hidden").write_text("x")
    run = _cli("ingest", str(empty), "--into", str(tmp_path / "case"), "--holder-country", "CN")
    assert run.returncode != 0, run.stdout
    message = " ".join(run.stderr.split())  # rich wraps at the terminal's width
    assert "no files to read" in message and str(empty) in message
    assert not (tmp_path / "case").exists()


# -------------------------------------------------------------------- item 9: disk full
def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "/full/disk/file")


@pytest.mark.parametrize("where", ["spool", "merge", "rejected", "fsync"])
def test_a_full_disk_leaves_the_case_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    case = tmp_path / "case"
    ingest([str(_source(tmp_path / "a" / "transfers.csv", _rows("A", 30) + ",x,,,,,\n"))], case,
           holder_country="CN")  # fmt: skip
    before = _snapshot(case)
    second = _source(tmp_path / "b" / "transfers.csv", _rows("B", 30) + ",x,,,,,\n")
    if where == "spool":
        monkeypatch.setattr(pq.ParquetWriter, "write_table", _no_space)
    elif where == "merge":
        merge = writer.CaseAppender._merge

        def merge_then_fail(*args: object, **kwargs: object) -> None:
            merge(*args, **kwargs)  # type: ignore[arg-type]
            _no_space()

        monkeypatch.setattr(writer.CaseAppender, "_merge", merge_then_fail)
    elif where == "rejected":
        monkeypatch.setattr("shutil.copyfileobj", _no_space)
    else:
        monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(ScamtraceError) as caught:
        ingest([str(second)], case)
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message, message
    assert str(case) in message or "/full/disk/file" in message
    monkeypatch.undo()
    assert _snapshot(case) == before
    assert _leftovers(tmp_path) == []
