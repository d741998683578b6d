"""``detect`` on small and partial cases: the first rows of each table of a small world, with a
table dropped, with one table alone, and a CSV cut in the middle of a row. Findings are always
written; what had too little to learn from is skipped and said so, in summary.json and on the
console."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core import contract
from scamtrace.detect.runner import detect
from scamtrace.report import write_report

TABLES = tuple(contract.INPUT_TABLES)
WRITTEN = ("entities", "leads", "transfers", "centers", "networks", "evidence", "rejected")


@pytest.fixture(scope="module")
def tables(small_case: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(small_case / f"{name}.parquet") for name in TABLES}


def _cut(root: Path, small_case: Path, tables: dict[str, pa.Table], rows: int,
         keep: tuple[str, ...] = TABLES) -> Path:  # fmt: skip
    """The first ``rows`` rows of each table in ``keep``, as a case folder."""
    root.mkdir(parents=True)
    shutil.copy(small_case / "holder.json", root / "holder.json")
    for name in keep:
        pq.write_table(tables[name].slice(0, rows), root / f"{name}.parquet")
    return root


def _detect(case: Path, out: Path) -> dict[str, object]:
    detect(case, out)
    for name in WRITTEN:
        assert (out / f"{name}.csv").is_file(), name
    assert not (out / "report.html").exists()  # detect writes findings only
    assert write_report(out).is_file()  # and the report renders from what it wrote
    summary: dict[str, object] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(summary["skipped"], list)
    return summary


def test_first_2000_rows_of_a_small_world(tmp_path: Path, small_case: Path,
                                          tables: dict[str, pa.Table]) -> None:  # fmt: skip
    # Was: scikit-learn's ValueError from LineScorer.fit, a feature with no value at all
    # among the lines of a fold (window shape cannot be larger than input array shape).
    case = _cut(tmp_path / "case", small_case, tables, 2000)
    summary = _detect(case, tmp_path / "findings")
    assert any("learned line reputation" in str(note) and "needed to learn from" in str(note)
               for note in summary["skipped"])  # type: ignore[attr-defined]  # fmt: skip
    result = CliRunner().invoke(app, ["detect", str(case), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "skipped: learned line reputation" in result.output


@pytest.mark.parametrize("rows", [0, 1, 50, 500])
def test_first_rows_of_every_table(tmp_path: Path, small_case: Path,
                                   tables: dict[str, pa.Table], rows: int) -> None:  # fmt: skip
    _detect(_cut(tmp_path / "case", small_case, tables, rows), tmp_path / "findings")


@pytest.mark.parametrize("drop", TABLES)
def test_2000_rows_without_one_table(tmp_path: Path, small_case: Path,
                                     tables: dict[str, pa.Table], drop: str) -> None:  # fmt: skip
    keep = tuple(t for t in TABLES if t != drop)
    summary = _detect(_cut(tmp_path / "case", small_case, tables, 2000, keep),
                      tmp_path / "findings")  # fmt: skip
    assert summary["inputs_missing"] == [drop]


@pytest.mark.parametrize("only", TABLES)
def test_2000_rows_of_one_table_alone(tmp_path: Path, small_case: Path,
                                      tables: dict[str, pa.Table], only: str) -> None:  # fmt: skip
    summary = _detect(_cut(tmp_path / "case", small_case, tables, 2000, (only,)),
                      tmp_path / "findings")  # fmt: skip
    assert summary["inputs_used"] == [only]


def test_csv_cut_in_the_middle_of_a_row_sets_that_row_aside(
    tmp_path: Path, small_case: Path, tables: dict[str, pa.Table]
) -> None:
    # `head -n 40 transcripts.csv` or so: transcripts span lines, so the cut leaves a quote open.
    # Was: the whole table refused ("Error when sniffing file"), and with it the case.
    case = _cut(tmp_path / "case", small_case, tables, 2000, ("carrier_cdr",))
    whole = tmp_path / "transcripts-whole.csv"
    pacsv.write_csv(tables["transcripts"].slice(0, 50), whole)
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    # the first cut from line 40 on that falls inside a quoted value (an odd count of quotes)
    cut = next(k for k in range(40, len(lines)) if "".join(lines[:k]).count('"') % 2)
    (case / "transcripts.csv").write_text("".join(lines[:cut]), encoding="utf-8")
    with (case / "transcripts.csv").open(encoding="utf-8", newline="") as fh:
        records = sum(1 for _ in csv.reader(fh)) - 1  # the last one is the cut one
    summary = _detect(case, tmp_path / "findings")
    assert summary["rows_read"]["transcripts"] == records  # type: ignore[index]
    assert summary["rows_set_aside"]["transcripts"] == 1  # type: ignore[index]
    with (tmp_path / "findings" / "rejected.csv").open(encoding="utf-8", newline="") as fh:
        (rejected,) = [r for r in csv.DictReader(fh) if r["table"] == "transcripts"]
    assert "unterminated quote" in rejected["reason"]
