"""The same case gives the same findings, run after run and whatever the number of threads: a
court must be able to reproduce them (ties in the data are broken by value, never by the
order DuckDB's threads happen to deliver rows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamtrace.detect.runner import detect


def test_findings_do_not_depend_on_threads_or_runs(
    small_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = []
    for run, threads in enumerate(("1", "4", "3")):
        monkeypatch.setenv("SCAMTRACE_THREADS", threads)
        out = tmp_path / f"run-{run}"
        detect(small_case, out)
        folders.append(out)
    first = folders[0]
    tables = sorted(p.name for p in first.glob("*.csv"))
    assert {"entities.csv", "evidence.csv", "centers.csv", "networks.csv"} <= set(tables)
    for other in folders[1:]:
        for name in tables:
            assert (other / name).read_bytes() == (first / name).read_bytes(), name
