"""The same case gives the same findings, run after run and whatever the number of threads: a
court must be able to reproduce them (ties in the data are broken by value, never by the
order DuckDB's threads happen to deliver rows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect


@pytest.fixture(scope="module")
def victims_side(small_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the victims' country holds: no VoIP lines, so no centers, and networks come from
    numbers, victims and accounts that meet (another path through the network detector)."""
    view = tmp_path_factory.mktemp("views") / "victims-side"
    view.mkdir()
    for path in small_case.iterdir():
        if path.is_file() and path.name != "voip_cdr.parquet":
            shutil.copy(path, view / path.name)
    return view


@pytest.mark.parametrize("view", ["small_case", "victims_side"])
def test_findings_do_not_depend_on_threads_or_runs(
    view: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case: Path = request.getfixturevalue(view)
    folders = []
    for run, threads in enumerate(("1", "4", "3", "2")):
        monkeypatch.setenv("SCAMTRACE_THREADS", threads)
        out = tmp_path / f"run-{run}"
        detect(case, out)
        folders.append(out)
    first = folders[0]
    tables = sorted(p.name for p in first.glob("*.csv"))
    assert {"entities.csv", "evidence.csv", "networks.csv"} <= set(tables)
    for other in folders[1:]:
        for name in tables:
            assert (other / name).read_bytes() == (first / name).read_bytes(), name
