"""SIGKILL at every step of ``ingest``, ``detect`` and ``share package`` (issue 21).

Each command is killed at named points (``SCAMTRACE_FAULT``: the process kills itself there,
between the two renames of the fallback swap included) and at random moments. After every
kill the target is the old state or the new state, complete and readable, never anything
else; the next run puts right what the killed one left; the last run succeeds and leaves no
hidden folder behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from scamtrace.core.casefolder import recover_missing
from scamtrace.detect.runner import detect
from scamtrace.report import write_report
from scamtrace.share.package import build_package, keygen, verify_package
from tests.detect.handmade import build

#: Points every writer passes (scamtrace.core.casefolder), in order; "between-renames" only where
#: the two-rename fallback is forced (SCAMTRACE_SWAP=rename).
SWAP_POINTS = [("staged", None), ("before-swap", None), ("between-renames", "rename"),
               ("swapped", None), ("swapped", "rename")]  # fmt: skip
RANDOM_KILLS = 2


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _command(args: list[str], fault: str | None = None, swap: str | None = None
             ) -> subprocess.Popen[bytes]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAMTRACE_")}
    if fault:
        env["SCAMTRACE_FAULT"] = fault
    if swap:
        env["SCAMTRACE_SWAP"] = swap
    return subprocess.Popen([sys.executable, "-m", "scamtrace.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _torture(args: list[str], root: Path, target: Path, state: Callable[[], str],
             reset: Callable[[], None], seed: int) -> None:
    """Kill ``args`` at every point and at random times; after each kill the state is "old"
    or "new" (``state`` asserts it complete and readable); the last run, clean, gives "new"
    and leaves nothing hidden behind."""
    took = 0.0  # the longest killed run: nearly a whole run, to time the random kills by
    for point, swap in SWAP_POINTS:
        started = time.monotonic()
        run = _command(args, point, swap)
        _, err = run.communicate(timeout=120)
        took = max(took, time.monotonic() - started)
        assert run.returncode == -signal.SIGKILL, (point, err.decode())
        if point == "between-renames":
            # The one moment the fallback has no target: the next command (a writer's
            # recovery, or a reader of a case) moves the old folder back.
            assert not target.exists()
            recover_missing(target)
        found = state()
        leftovers = [n for n in _hidden(root)
                     if not n.endswith((f"-{run.pid}", ".lock"))]  # this run's own
        assert leftovers == [], (point, leftovers)  # earlier kills' leftovers were put right
        if found == "new":
            reset()
    rng = random.Random(seed)
    for _ in range(RANDOM_KILLS):
        reset()
        run = _command(args)
        time.sleep(rng.uniform(0.3, 1.0) * took)
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=120)
        assert state() in ("old", "new")
    reset()
    last = _command(args)
    _, err = last.communicate(timeout=120)
    assert last.returncode == 0, err.decode()
    assert state() == "new" and _hidden(root) == []
    assert target.is_dir()


def _restore(target: Path, pristine: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(pristine, target)


def test_ingest_killed_anywhere(tmp_path: Path) -> None:
    source = build(tmp_path / "source")
    root = tmp_path / "cases"
    root.mkdir()
    case = root / "case"
    first = subprocess.run([sys.executable, "-m", "scamtrace.cli", "ingest",
                            str(source / "transfers.csv"), "--into", str(case),
                            "--holder-country", "CN"], capture_output=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    pristine = tmp_path / "pristine"
    shutil.copytree(case, pristine)
    old = _snapshot(pristine)
    tables = ("carrier_cdr", "voip_cdr", "accounts")
    expected = {t: sum(1 for _ in (source / f"{t}.csv").open()) - 1 for t in tables}

    def state() -> str:
        assert case.is_dir(), "no case folder"
        if _snapshot(case) == old:
            return "old"
        manifest = json.loads((case / "ingest.json").read_text(encoding="utf-8"))
        assert len(manifest["sources"]) == 1 + len(tables)
        for table, rows in expected.items():
            assert pq.read_table(case / f"{table}.parquet").num_rows == rows, table
        assert pq.read_table(case / "transfers.parquet").num_rows == \
            pq.read_table(pristine / "transfers.parquet").num_rows  # fmt: skip
        return "new"

    args = ["ingest", *(str(source / f"{t}.csv") for t in tables), "--into", str(case)]
    for point in ("ingest:spooled", "ingest:merged"):  # the ingest's own steps first
        run = _command(args, point)
        run.communicate(timeout=120)
        assert run.returncode == -signal.SIGKILL and state() == "old"
    _torture(args, root, case, state, lambda: _restore(case, pristine), seed=1)


def test_detect_killed_anywhere(tmp_path: Path) -> None:
    case = build(tmp_path / "case")
    root = tmp_path / "out"
    root.mkdir()
    findings = root / "findings"
    detect(build(tmp_path / "small", tables=("carrier_cdr",)), findings)
    write_report(findings)
    pristine = tmp_path / "pristine"
    shutil.copytree(findings, pristine)
    old = _snapshot(pristine)
    names = {"entities.csv", "transfers.csv", "centers.csv", "networks.csv", "summary.json"}

    def state() -> str:
        assert findings.is_dir(), "no findings folder"
        if _snapshot(findings) == old:
            return "old"
        assert names <= {p.name for p in findings.iterdir()}
        summary = json.loads((findings / "summary.json").read_text(encoding="utf-8"))
        assert "voip_cdr" in summary["inputs_used"]
        # The report is rendered after the findings are in: a kill in between leaves none
        # (the next detect writes both); a report there is whole (written aside, renamed).
        report = findings / "report.html"
        assert not report.exists() or "</html>" in report.read_text(encoding="utf-8")
        return "new"

    args = ["detect", str(case), "--out", str(findings), "--overwrite"]
    _torture(args, root, findings, state, lambda: _restore(findings, pristine), seed=2)
    assert "</html>" in (findings / "report.html").read_text(encoding="utf-8")  # the last run's


def test_share_package_killed_anywhere(tmp_path: Path) -> None:
    case = build(tmp_path / "case")
    findings = tmp_path / "findings"
    detect(case, findings)
    key, public = keygen(tmp_path / "agency.pem")
    root = tmp_path / "out"
    root.mkdir()
    package = root / "package"
    build_package(findings, key, package, agency="old")
    pristine = tmp_path / "pristine"
    shutil.copytree(package, pristine)
    old = _snapshot(pristine)

    def state() -> str:
        assert package.is_dir(), "no package folder"
        if _snapshot(package) == old:
            return "old"
        check = verify_package(package, public)
        assert check.ok, check.problems
        manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["agency"] == "new"
        return "new"

    args = ["share", "package", str(findings), "--key", str(key), "--out", str(package),
            "--agency", "new", "--overwrite"]  # fmt: skip
    _torture(args, root, package, state, lambda: _restore(package, pristine), seed=3)
