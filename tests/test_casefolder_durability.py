"""Writers that never lose what they replace (issue 21): outputs kept apart from inputs,
--overwrite that replaces only what scamtrace wrote, full disks, readers during a swap."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scamtrace.core import casefolder
from scamtrace.core.casefolder import CaseFolderWriter, case_lock, recover, swap_in
from scamtrace.core.errors import CaseFolderError, ScamtraceError
from tests.detect.handmade import build


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scamtrace.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)  # fmt: skip


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------- outputs apart from inputs
@pytest.mark.parametrize("where", ["the case", "above the case"])
def test_detect_never_deletes_its_own_input(tmp_path: Path, where: str) -> None:
    root = tmp_path / "work"
    case = build(root / "case", tables=("carrier_cdr",))
    (root / "notes.txt").write_text("the investigator's notes")
    before = _snapshot(root)
    out = case if where == "the case" else root
    run = _cli("detect", str(case), "--out", str(out), "--overwrite")
    assert run.returncode == 2, run.stderr
    assert "--out" in run.stderr and "Traceback" not in run.stderr
    assert _snapshot(root) == before


def test_detect_out_may_not_hold_its_settings(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    out = tmp_path / "findings"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    settings = out / "settings.yaml"
    settings.write_text("link_tolerance_s: 10\n")
    run = _cli("detect", str(case), "--out", str(out), "--settings", str(settings), "--overwrite")
    assert run.returncode == 2 and "--out holds the input" in run.stderr, run.stderr
    assert settings.is_file()


def test_overwrite_replaces_only_a_folder_scamtrace_wrote(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    other = tmp_path / "documents"
    other.mkdir()
    (other / "letter.txt").write_text("not findings")
    run = _cli("detect", str(case), "--out", str(other), "--overwrite")
    assert run.returncode == 2 and "summary.json" in run.stderr, run.stderr
    assert (other / "letter.txt").read_text() == "not findings"
    findings = tmp_path / "findings"
    assert _cli("detect", str(case), "--out", str(findings)).returncode == 0
    again = _cli("detect", str(case), "--out", str(findings), "--overwrite")
    assert again.returncode == 0, again.stderr
    assert _leftovers(tmp_path) == []


def test_simulate_out_may_not_hold_its_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "world"
    folder.mkdir()
    scenario = folder / "scenario.yaml"
    scenario.write_text("base: small\n")
    run = _cli("simulate", "--scenario", str(scenario), "--out", str(folder), "--overwrite",
               "--scale", "0.05")  # fmt: skip
    assert run.returncode == 2 and "--out" in run.stderr, run.stderr
    assert scenario.read_text() == "base: small\n"


def test_classify_out_may_not_be_its_source(tmp_path: Path) -> None:
    source = tmp_path / "texts.csv"
    source.write_text("text\nhello, this is the police\n")
    run = _cli("classify", str(source), "--out", str(source))
    assert run.returncode == 2 and "--out is the input" in run.stderr, run.stderr
    assert source.read_text() == "text\nhello, this is the police\n"


def test_no_output_may_replace_the_current_folder(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr",))
    here = tmp_path / "here"
    here.mkdir()
    (here / "keep.txt").write_text("x")
    run = _cli("detect", str(case), "--out", ".", "--overwrite", cwd=here)
    assert run.returncode == 2 and "current folder" in run.stderr, run.stderr
    assert (here / "keep.txt").is_file()


# ----------------------------------------------------------------------- the swap itself
def test_swap_leaves_the_target_always_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system can exchange two names in one step, there is no moment without the
    target; where it cannot, the two renames are undone by the next writer."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staged = tmp_path / ".out.partial-1"
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    seen: list[bool] = []
    rename = os.rename

    def watch(a: object, b: object, *args: object, **kwargs: object) -> None:
        seen.append(target.is_dir())
        rename(a, b, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", watch)
    swap_in(staged, target)
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert not staged.exists() and _leftovers(tmp_path) == []
    if casefolder.can_exchange():
        assert seen == []  # one step: no rename at all


def test_fsync_reaches_every_file_before_the_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    fsync = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    out = tmp_path / "out"
    with CaseFolderWriter(out, subfolders=("truth",)) as w:
        w.write_json("summary.json", {"a": 1})
        w.path("truth/x.csv").write_text("x\n")
        staged = w.tmp
    assert {str(staged / "summary.json"), str(staged / "truth" / "x.csv"), str(staged),
            str(staged / "truth"), str(tmp_path)} <= set(synced)  # fmt: skip


def test_recovery_puts_back_a_folder_left_aside_and_removes_dead_leftovers(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    (tmp_path / f".out.old-{pid}").mkdir()
    (tmp_path / f".out.old-{pid}" / "summary.json").write_text("{}")
    (tmp_path / f".out.partial-{pid}").mkdir()
    (tmp_path / f".out.partial-{pid}" / "half.csv").write_text("half")
    (tmp_path / f".outer.partial-{pid}").mkdir()  # another folder's: not ours to judge
    with case_lock(tmp_path / "out"):
        recover(tmp_path / "out")
    assert (tmp_path / "out" / "summary.json").is_file()
    assert _leftovers(tmp_path) == [f".outer.partial-{pid}"]


def test_a_reader_never_sees_a_case_without_its_tables(tmp_path: Path) -> None:
    """detect's reading holds the case's shared lock: a writer waits for it, and it for a
    writer, so a reader sees one commit whole, never two halves."""
    from scamtrace.enrich.case import open_case

    case = build(tmp_path / "case", tables=("carrier_cdr", "voip_cdr"))
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with case_lock(case, purpose="writer"):
            entered.set()
            release.wait(30)

    writer = threading.Thread(target=hold)
    writer.start()
    entered.wait(30)
    result: list[object] = []

    def read() -> None:
        result.append(open_case(case).present)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(0.5)
    assert result == []  # still waiting for the writer
    release.set()
    writer.join(30)
    reader.join(30)
    assert result == [["carrier_cdr", "voip_cdr"]]


# ------------------------------------------------------------------------------ full disk
def test_a_full_disk_while_writing_findings_keeps_the_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scamtrace.detect import assemble
    from scamtrace.detect.runner import detect

    case = build(tmp_path / "case", tables=("carrier_cdr", "voip_cdr"))
    out = tmp_path / "findings"
    detect(case, out)
    before = _snapshot(out)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out) + "/entities.csv")

    monkeypatch.setattr(assemble, "write_tables", full)
    monkeypatch.setattr("scamtrace.detect.runner.write_tables", full)
    with pytest.raises(ScamtraceError) as caught:
        detect(case, out, overwrite=True)
    assert "No space left on device" in str(caught.value) and "\n" not in str(caught.value)
    assert _snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_a_failed_second_rename_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAMTRACE_SWAP", "rename")
    target = tmp_path / "out"
    target.mkdir()
    (target / "summary.json").write_text(json.dumps({"old": True}))
    rename = os.rename
    calls: list[object] = []

    def second_fails(a: object, b: object, *args: object, **kwargs: object) -> None:
        calls.append(a)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(b))
        rename(a, b, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", second_fails)
    with pytest.raises(CaseFolderError, match="Input/output error"), \
            CaseFolderWriter(target, overwrite=True, subfolders=()) as w:  # fmt: skip
        w.write_json("summary.json", {"old": False})
    assert json.loads((target / "summary.json").read_text()) == {"old": True}
    assert _leftovers(tmp_path) == []


def test_a_full_disk_while_packaging_keeps_the_old_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scamtrace.detect.runner import detect
    from scamtrace.share import package as package_module

    findings = tmp_path / "findings"
    detect(build(tmp_path / "case", tables=("carrier_cdr", "voip_cdr")), findings)
    key, _public = package_module.keygen(tmp_path / "keys" / "agency.pem")
    out = tmp_path / "out" / "package"
    package_module.build_package(findings, key, out)
    before = _snapshot(out)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out) + "/exports/ftm.jsonl")

    import scamtrace.share.export.stix as stix_module

    monkeypatch.setattr(stix_module, "write_stix", full)
    with pytest.raises(ScamtraceError) as caught:
        package_module.build_package(findings, key, out, overwrite=True)
    assert "No space left on device" in str(caught.value) and "\n" not in str(caught.value)
    assert _snapshot(out) == before
    assert _leftovers(out.parent) == []
