"""``scamtrace classify``: a CSV in, the same rows out with a score and a type."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from scamtrace.cli import app


def test_classify_csv_file(tmp_path: Path) -> None:
    source = tmp_path / "texts.csv"
    source.write_text(
        "id,text\n"
        "1,\"This is inspector Brown of the police. Your account is under investigation, move "
        "your savings to the safe account I give you today.\"\n"
        "2,\"Hi, it's Ana, are we still meeting for lunch on Friday?\"\n",
        encoding="utf-8",
    )
    out = tmp_path / "scored.csv"
    result = CliRunner().invoke(app, ["classify", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert float(rows[0]["scam_score"]) > 0.5 > float(rows[1]["scam_score"])
    assert rows[0]["scam_type"] != "normal" and rows[1]["scam_type"] == "normal"


def test_classify_stdin_lines() -> None:
    text = "Su paquete está retenido en aduanas, pague la tasa en este enlace\n\nHola, ¿qué tal?\n"
    result = CliRunner().invoke(app, ["classify", "-"], input=text)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2 and all(0.0 <= float(r["scam_score"]) <= 1.0 for r in rows)


def test_classify_needs_a_text_column(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("id,body\n1,hello\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", str(source)])
    assert result.exit_code != 0 and "text" in str(result.exception)
