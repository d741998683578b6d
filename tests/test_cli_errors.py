"""Bad input, a file that cannot be written and Ctrl-C end in one ``error:`` line and a non-zero
exit, never a traceback; a bug keeps its traceback. Run through the real entry point: the
``scamtrace`` command in a subprocess, or :func:`scamtrace.cli.main` with an injected failure.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import duckdb
import pytest

from scamtrace import cli
from scamtrace.detect import runner
from tests.detect.handmade import build


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _one_error(code: int | str | None, stderr: str, expected: int = 2) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert code == expected, stderr
    return lines[0]


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *args: str) -> tuple[int | str | None, str]:  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["scamtrace", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return exit_.value.code, capsys.readouterr().err


def test_a_path_that_looks_like_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    # Was: rich.errors.MarkupError (closing tag '[/x]' doesn't match any open tag)
    missing = tmp_path / "a[/x]" / "case"
    run = _cli("detect", str(missing), "--out", str(tmp_path / "f[/y]"))
    assert str(missing) in _one_error(run.returncode, run.stderr)
    run = _cli("share", "stix", str(missing), "--out", str(tmp_path / "b[/x].json"))
    assert str(missing) in _one_error(run.returncode, run.stderr)


@pytest.mark.parametrize(("option", "value"), [
    ("--seed", "-1"), ("--scale", "inf"), ("--scale", "nan"), ("--scale", "0"),
    ("--scale", "-2"), ("--scale", "1e300"),
])  # fmt: skip
def test_simulate_refuses_a_bad_seed_or_scale_before_writing(tmp_path: Path, option: str,
                                                              value: str) -> None:  # fmt: skip
    # Was: numpy's ValueError (seed -1), OverflowError (scale inf, 1e300)
    out = tmp_path / "case"
    run = _cli("simulate", "--scenario", "small", option, value, "--out", str(out))
    assert option in _one_error(run.returncode, run.stderr)
    assert not out.exists()


def test_a_scenario_file_with_an_infinite_scale_is_refused(tmp_path: Path) -> None:
    small = (resources.files("scamtrace.simulate") / "scenarios" / "small.yaml").read_text()
    assert "scale: 0.05" in small
    scenario = tmp_path / "inf.yaml"
    scenario.write_text(small.replace("scale: 0.05", "scale: .inf"), encoding="utf-8")
    run = _cli("simulate", "--scenario", str(scenario), "--out", str(tmp_path / "case"))
    assert "scale" in _one_error(run.returncode, run.stderr)


def test_classify_into_a_folder_or_without_a_text_column(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("call_id,text\nc1,hello\n", encoding="utf-8")
    # Was: pyarrow's OSError traceback (Expected file path, but ... is a directory)
    run = _cli("classify", str(texts), "--out", str(tmp_path))
    assert "folder" in _one_error(run.returncode, run.stderr)
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b\n1,2\n", encoding="utf-8")
    run = _cli("classify", str(numbers))
    assert "no 'text' column" in _one_error(run.returncode, run.stderr)


def test_an_unreadable_table_is_one_line(tmp_path: Path) -> None:
    # Was: DuckDB's message and its page of hints, over a dozen lines
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    (case / "transfers.parquet").write_bytes(b"")
    run = _cli("detect", str(case), "--out", str(tmp_path / "findings"))
    assert "transfers.parquet" in _one_error(run.returncode, run.stderr)


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/findings/.tmp/evidence.csv"),
    PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/findings/.tmp/evidence.csv"),
    duckdb.IOException('IO Error: Could not write file "/findings/.tmp/evidence.csv": '
                       "No space left on device\n\nLINE 1: COPY ..."),
], ids=["disk-full", "permission-denied", "duckdb-disk-full"])  # fmt: skip
def test_a_file_that_cannot_be_written_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    # Was: the OSError's traceback
    case = build(tmp_path / "case", tables=("carrier_cdr",))

    def fail(*_args: object) -> dict[str, int]:
        raise error

    monkeypatch.setattr(runner, "write_tables", fail)
    code, stderr = _main(monkeypatch, capsys, "detect", str(case), "--out",
                         str(tmp_path / "findings"))  # fmt: skip
    line = _one_error(code, stderr)
    assert "/findings/.tmp/evidence.csv" in line
    assert ("No space left on device" in line) or ("Permission denied" in line)


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # Was: a silent exit 130 (typer), and DuckDB's InterruptException a traceback
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    for interrupt in (KeyboardInterrupt(), duckdb.InterruptException("INTERRUPT Error")):

        def stop(*_args: object, raised: BaseException = interrupt) -> dict[str, int]:
            raise raised

        monkeypatch.setattr(runner, "write_tables", stop)
        code, stderr = _main(monkeypatch, capsys, "detect", str(case), "--out",
                             str(tmp_path / "findings"))  # fmt: skip
        assert _one_error(code, stderr, expected=130) == "error: interrupted"


def test_a_bug_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr",))

    def bug(*_args: object) -> dict[str, int]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "write_tables", bug)
    monkeypatch.setattr(sys, "argv", ["scamtrace", "detect", str(case), "--out",
                                      str(tmp_path / "findings")])  # fmt: skip
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main()
