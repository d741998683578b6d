"""Reading a findings folder for the report: one reader per file, every column as text,
missing and broken files reported instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

from scamtrace.report.load import (
    ENTITY_COLUMNS,
    EVIDENCE_COLUMNS,
    SCRIPT_COLUMNS,
    load_findings,
    read_findings_csv,
    read_report_table,
    read_summary,
)


def test_reader_reads_every_column_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('\ufeffa,b\n007,""\n1.50,"two\nlines"\n', "utf-8")
    got = read_findings_csv(path, ("a", "b", "c"))
    assert got is not None
    table, bad = got
    assert bad == 0
    assert table.to_pydict() == {"a": ["007", "1.50"], "b": ["", "two\nlines"], "c": ["", ""]}
    assert read_findings_csv(tmp_path / "absent.csv", ("a",)) is None


def test_a_table_holds_exactly_the_report_columns(tmp_path: Path) -> None:
    (tmp_path / "entities.csv").write_text(
        "value,kind,extra\n'=1+1,sip_account,x\nshort\n", "utf-8"
    )
    read = read_report_table(tmp_path, "entities")
    assert read.present and read.malformed == 1
    assert tuple(read.table.column_names) == ENTITY_COLUMNS
    row = read.table.to_pylist()[0]
    assert row["value"] == "=1+1"  # the formula guard is not shown
    assert row["kind"] == "sip_account" and row["score"] == ""


def test_absent_table_is_empty_and_not_present(tmp_path: Path) -> None:
    read = read_report_table(tmp_path, "scripts")
    assert not read.present and read.malformed == 0
    assert read.table.num_rows == 0 and tuple(read.table.column_names) == SCRIPT_COLUMNS


def test_summary_problems_are_said_in_words(tmp_path: Path) -> None:
    missing = read_summary(tmp_path)
    assert (missing.summary, missing.present) == ({}, False)
    assert "summary.json is missing" in missing.problem
    (tmp_path / "summary.json").write_text("[1]", "utf-8")
    assert "is not an object" in read_summary(tmp_path).problem
    (tmp_path / "summary.json").write_text("{not json", "utf-8")
    assert "could not be read" in read_summary(tmp_path).problem
    (tmp_path / "summary.json").write_text(json.dumps({"case": "x"}), "utf-8")
    good = read_summary(tmp_path)
    assert (good.summary, good.present, good.problem) == ({"case": "x"}, True, "")


def test_load_findings_notes_presence_and_rejected(tmp_path: Path) -> None:
    (tmp_path / "evidence.csv").write_text(
        ",".join(EVIDENCE_COLUMNS) + "\na,b\nc,d\n", "utf-8"
    )
    (tmp_path / "rejected.csv").write_text("table\n", "utf-8")
    findings = load_findings(tmp_path)
    assert findings.present == {
        "entities": False, "transfers": False, "centers": False, "networks": False,
        "evidence": True, "scripts": False, "summary": False,
    }  # fmt: skip
    assert findings.rejected_listed
    assert findings.notes[0] == (
        "2 malformed rows of evidence.csv could not be read and are not in this report."
    )
    assert "summary.json is missing" in findings.notes[1] and len(findings.notes) == 2
