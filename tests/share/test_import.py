"""Export -> import gives back the same findings, for STIX, MISP and FollowTheMoney alike: the
same entities (kind, value, network, center; scores to the precision the format carries), the
same centers and networks."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import FindingsError
from scamtrace.share.export.base import Row, load_findings
from scamtrace.share.export.ftm import import_ftm, write_ftm
from scamtrace.share.export.misp import SCORE_DECIMALS, import_feed, write_feed
from tests.share.conftest import read_rows, row_set

#: Decimals of the score each format carries (STIX and FtM carry the CSV's exact string).
EXACT = None
SCORES: dict[str, int | None] = {"stix": EXACT, "misp": SCORE_DECIMALS, "ftm": EXACT}


def _entity_key(row: Row, decimals: int | None) -> tuple[str, str, str, str, str]:
    score = row["score"] if decimals is None else f"{float(row['score']):.{decimals}f}"
    return row["kind"], row["value"], row["network_id"], row["center_id"], score


def _export_and_import(fmt: str, findings: Path, tmp_path: Path, *extra: str) -> Path:
    runner = CliRunner()
    exported, back = tmp_path / f"export-{fmt}", tmp_path / f"back-{fmt}"
    done = runner.invoke(app, ["share", fmt, str(findings), "--out", str(exported), *extra])
    assert done.exit_code == 0, done.output
    if fmt == "ftm":  # through stdin, as `share ftm ... | share ftm-import - ...` runs
        done = runner.invoke(app, ["share", "ftm-import", "-", "--out", str(back)],
                             input=exported.read_text(encoding="utf-8"))  # fmt: skip
    else:
        done = runner.invoke(app, ["share", f"{fmt}-import", str(exported), "--out", str(back)])
    assert done.exit_code == 0, done.output
    return back


@pytest.mark.parametrize("fmt", ["stix", "misp", "ftm"])
def test_export_then_import_gives_the_same_findings(fmt: str, trimmed_findings: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    back = _export_and_import(fmt, trimmed_findings, tmp_path, "--reveal")
    original, imported = load_findings(trimmed_findings), load_findings(back)
    kinds = {r["kind"] for r in original.entities}
    assert {"caller_number", "sip_account", "source_ip", "mule_account", "victim_phone",
            "victim_paid"} <= kinds  # fmt: skip
    decimals = SCORES[fmt]
    got = sorted(_entity_key(r, decimals) for r in imported.entities)
    assert got == sorted(_entity_key(r, decimals) for r in original.entities)
    assert any(r["network_id"] for r in imported.entities)
    assert any(r["center_id"] for r in imported.entities)
    for table in ("centers", "networks"):
        assert row_set(getattr(imported, table)) == row_set(getattr(original, table)), table
        assert imported.columns[table] == original.columns[table], table


@pytest.mark.parametrize("fmt", ["misp", "ftm"])
def test_without_reveal_import_gives_the_shareable_entities(fmt: str, trimmed_findings: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    findings = load_findings(trimmed_findings)
    if fmt == "misp":
        write_feed(trimmed_findings, tmp_path / "feed")
        imported = import_feed(tmp_path / "feed")
    else:
        text = io.StringIO()
        write_ftm(trimmed_findings, text)
        imported = import_ftm(text.getvalue().splitlines(), "ftm")
    decimals = SCORES[fmt]
    shared = sorted(_entity_key(r, decimals) for r in findings.shareable_entities(False))
    assert sorted(_entity_key(r, decimals) for r in imported.entities) == shared
    assert len(shared) < len(findings.entities)  # victims were left out


def test_ftm_import_keeps_exact_cells_and_makes_them_inert(trimmed_findings: Path,
                                                           tmp_path: Path) -> None:  # fmt: skip
    folder = tmp_path / "findings"
    shutil.copytree(trimmed_findings, folder)
    rows = read_rows(folder / "entities.csv")
    evil = '=HYPERLINK("http://x.invalid","open")\nsecond line'
    line = next(r for r in rows if r["kind"] == "sip_account")
    line["reason"] = evil
    with (folder / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    exported = tmp_path / "x.ftm.jsonl"
    with exported.open("w", encoding="utf-8") as fh:
        write_ftm(folder, fh)
    back = tmp_path / "back"
    done = CliRunner().invoke(app, ["share", "ftm-import", str(exported), "--out", str(back)])
    assert done.exit_code == 0, done.output
    assert row_set(load_findings(back).entities) >= row_set([line])  # read back as it was
    assert "'=HYPERLINK" in (back / "entities.csv").read_text(encoding="utf-8")  # inert on disk


def test_imports_name_what_they_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(FindingsError, match=r"ftm: line 2"):
        import_ftm(['{"id": "a", "schema": "Note", "properties": {}}',
                    '{"properties": {"keywords": ["scamtrace-finding:{"]}}'], "ftm")  # fmt: skip
    with pytest.raises(FindingsError, match="not a MISP feed folder"):
        import_feed(tmp_path)
    (tmp_path / "event.json").write_text(json.dumps([1, 2]))
    with pytest.raises(FindingsError, match=r"event\.json"):
        import_feed(tmp_path)
    done = CliRunner().invoke(app, ["share", "ftm-import", str(tmp_path / "missing.jsonl"),
                                    "--out", str(tmp_path / "out")])  # fmt: skip
    assert done.exit_code != 0 and "missing.jsonl" in str(done.exception)
