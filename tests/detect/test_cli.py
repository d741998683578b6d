"""The detect command: thin, prints what it used and lacked, fails clearly on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from scamtrace.cli import app
from tests.detect.handmade import build


def test_detect_command_writes_findings_and_says_what_it_lacked(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr", "voip_cdr", "reports"))
    out = tmp_path / "findings"
    result = CliRunner().invoke(app, ["detect", str(case), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "missing" in result.output and "transfers" in result.output
    assert "report.html" in result.output
    for name in ("entities", "transfers", "centers", "networks", "evidence", "leads"):
        assert (out / f"{name}.csv").is_file()
    again = CliRunner().invoke(app, ["detect", str(case), "--out", str(out)])
    assert again.exit_code != 0  # never overwrites findings unasked
    assert (out / "report.html").is_file()


def test_the_report_is_written_into_the_findings_folder_and_names_it(tmp_path: Path) -> None:
    case = build(tmp_path / "case")
    out = tmp_path / "madrid-findings"
    result = CliRunner().invoke(app, ["detect", str(case), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<code>madrid-findings</code>" in report
    assert ".partial-" not in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "madrid-findings"]


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("link_tolerance_s: -3\n")
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    for args, message in (
        ([str(tmp_path / "nowhere")], "case folder not found"),
        ([str(case), "--settings", str(settings)], "link_tolerance_s"),
        ([str(case), "--country", "XX"], "XX"),
    ):
        run = subprocess.run([sys.executable, "-m", "scamtrace.cli", "detect", *args, "--out",
                              str(tmp_path / "f")], capture_output=True, text=True)  # fmt: skip
        assert run.returncode == 2, run.stderr
        assert message in run.stderr
    assert not (tmp_path / "f").exists()


def test_help_has_examples() -> None:
    for command in ("detect", "evaluate"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output
