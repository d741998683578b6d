"""What the CLI writes and shows under the spreadsheet formula rule (``scamtrace.core.formulas``):
``classify`` writes no cell a spreadsheet would run and leaves every other value as it came;
the tables detect prints show values as they were found, markup and all."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scamtrace import cli
from scamtrace.core.formulas import TRIGGERS, restore

PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
ROWS = [
    ["call_id", "phone", "text"],
    ["=c1", "+34612345678", '=HYPERLINK("http://evil.example","x") 您好，我是公安局的'],
    ["@c2", "00123", "-1+2 hello, is this a good time?"],
    ["c3", "'=already safe", "+cmd|' /C calc'!A0"],
    ["c4", "-12.50", "\tlines\nover two"],
]


def _safe(cell: str) -> bool:
    return not cell[:1] or cell[0] not in TRIGGERS or bool(PLAIN_NUMBER.fullmatch(cell))


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines(keepends=True)))


def test_classify_writes_inert_cells_and_keeps_the_other_values(tmp_path: Path) -> None:
    source = tmp_path / "texts.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(ROWS)
    scored = tmp_path / "scored.csv"
    run = subprocess.run([sys.executable, "-m", "scamtrace.cli", "classify", str(source),
                          "--out", str(scored)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    to_stdout = subprocess.run([sys.executable, "-m", "scamtrace.cli", "classify", str(source)],
                               capture_output=True, text=True)  # fmt: skip
    assert to_stdout.returncode == 0, to_stdout.stderr
    for rows in (_read(scored.read_text(encoding="utf-8")), _read(to_stdout.stdout)):
        assert rows[0] == [*ROWS[0], "scam_score", "scam_type"]
        assert all(_safe(cell) for row in rows for cell in row), rows
        # read back, the values are those given: numbers and ids as written (no number
        # guessed from "00123"), a cell that was already safe unchanged
        assert [[restore(cell) for cell in row[:3]] for row in rows[1:]] == [
            ROWS[1],
            ROWS[2],
            ["c3", "=already safe", ROWS[3][2]],
            ROWS[4],
        ]
        assert [row[1] for row in rows[1:]] == ["+34612345678", "00123", "'=already safe",
                                                "-12.50"]  # fmt: skip


def test_printed_findings_show_values_as_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Was: rich.errors.MarkupError on "[/x]", and the ' of the formula rule shown
    table = tmp_path / "networks.csv"
    table.write_text("network_id,name\nN1,'=SUM(1)\nN2,[/x] [bold]\n", encoding="utf-8")
    cli._print_findings_table(tmp_path, "networks", "networks")
    shown = capsys.readouterr().out
    assert "=SUM(1)" in shown and "'=SUM(1)" not in shown
    assert "[/x] [bold]" in shown
