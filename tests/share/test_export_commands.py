"""The export commands as users run them (issue 21): they never replace an output unasked nor
write over an input, a case folder that is not there is an error, and a bundle that is not
what it claims is a one-line error naming it."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamtrace.cli import app


def _invoke(*args: str) -> tuple[int, str, BaseException | None]:
    done = CliRunner().invoke(app, list(args))
    return done.exit_code, done.output, done.exception


@pytest.mark.parametrize("command", ["stix", "ftm"])
def test_file_exports_refuse_to_replace_an_output(trimmed_findings: Path, tmp_path: Path,
                                                  command: str) -> None:  # fmt: skip
    out = tmp_path / "export.json"
    out.write_text("keep me\n")
    code, _, exc = _invoke("share", command, str(trimmed_findings), "--out", str(out))
    assert code != 0 and "--overwrite" in str(exc)
    assert out.read_text() == "keep me\n"
    code, output, exc = _invoke("share", command, str(trimmed_findings), "--out", str(out),
                                "--overwrite")  # fmt: skip
    assert code == 0, (output, exc)
    assert out.read_text() != "keep me\n"


def test_misp_refuses_a_feed_folder_that_is_not_empty(trimmed_findings: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "old-event.json").write_text("{}\n")
    code, _, exc = _invoke("share", "misp", str(trimmed_findings), "--out", str(feed))
    assert code != 0 and "--overwrite" in str(exc)
    assert [p.name for p in feed.iterdir()] == ["old-event.json"]


@pytest.mark.parametrize("command", ["misp", "ftm"])
def test_a_missing_case_folder_is_an_error(trimmed_findings: Path, tmp_path: Path,
                                           command: str) -> None:  # fmt: skip
    missing = tmp_path / "no-such-case"
    out = tmp_path / "out"
    if command == "misp":
        args = ["share", "misp", str(trimmed_findings), "--case", str(missing), "--out", str(out)]
    else:
        args = ["share", "ftm", str(trimmed_findings), str(missing), "--out", str(out)]
    code, _, exc = _invoke(*args)
    assert code != 0 and "no-such-case: case folder not found" in str(exc)
    assert not out.exists()


def test_outputs_inside_their_inputs_are_refused(trimmed_findings: Path, small_case: Path,
                                                 tmp_path: Path) -> None:  # fmt: skip
    findings = tmp_path / "findings"
    shutil.copytree(trimmed_findings, findings)
    before = sorted(p.name for p in findings.iterdir())
    key = tmp_path / "agency.pem"
    assert _invoke("share", "signing-key", "--out", str(key))[0] == 0
    attempts = [
        ["share", "stix", str(findings), "--out", str(findings / "bundle.json")],
        ["share", "misp", str(findings), "--out", str(findings), "--overwrite"],
        ["share", "ftm", str(findings), "--out", str(findings / "ftm.jsonl")],
        ["share", "package", str(findings), "--key", str(key), "--out", str(findings / "pkg")],
        ["share", "package", str(findings), "--key", str(key), "--out", str(tmp_path),
         "--overwrite"],
    ]  # fmt: skip
    for args in attempts:
        code, _, exc = _invoke(*args)
        assert code != 0 and "replace what is being read" in str(exc), args
    assert sorted(p.name for p in findings.iterdir()) == before
    assert key.is_file()


def test_stix_import_writes_inert_cells_and_names_bad_bundles(trimmed_findings: Path,
                                                              tmp_path: Path) -> None:  # fmt: skip
    findings = tmp_path / "findings"
    shutil.copytree(trimmed_findings, findings)
    with (findings / "entities.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    evil = '=HYPERLINK("http://x.invalid","open")'
    rows[0]["reason"] = evil
    with (findings / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    bundle = tmp_path / "bundle.json"
    assert _invoke("share", "stix", str(findings), "--out", str(bundle))[0] == 0
    back = tmp_path / "back"
    code, output, exc = _invoke("share", "stix-import", str(bundle), "--out", str(back))
    assert code == 0, (output, exc)
    with (back / "entities.csv").open(encoding="utf-8", newline="") as fh:
        reasons = {r["reason"] for r in csv.DictReader(fh)}
    assert "'" + evil in reasons and evil not in reasons
    # Through the real entry point: one line naming the file, exit 2, no traceback.
    bad = {"latin1.json": b'{"type": "bundle", "objects": ["caf\xe9"]}',
           "deep.json": b"[" * 100_000,
           "odd.json": b'{"type": "bundle", "objects": [{"extensions": {"x": 1}, "id": []}]}',
           "odd2.json": b'{"type": "bundle", "objects": [{"extensions": ['
                        b'"extension-definition--83ae1099-e96e-47a6-b4f2-d3dfa976a56a"]}]}'}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-c", "from scamtrace.cli import main; main()", "share",
             "stix-import", str(tmp_path / name), "--out", str(tmp_path / f"out-{name}")],
            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "500"},
        )  # fmt: skip
        assert "Traceback" not in done.stderr, (name, done.stderr[-2000:])
        if name.startswith("odd"):
            continue  # read, or refused: either way no traceback
        assert done.returncode == 2 and name in done.stderr, (name, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
