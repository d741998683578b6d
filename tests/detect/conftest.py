"""Fixtures for detection tests: the hand-made case, detected once per session."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect
from scamtrace.report import write_report
from tests.detect.handmade import build


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def flagged(findings: Path, kind: str) -> dict[str, dict[str, str]]:
    """Flagged entities of ``kind`` by value."""
    return {r["value"]: r for r in read_rows(findings / "entities.csv")
            if r["kind"] == kind and float(r["score"]) >= 0.5}  # fmt: skip


@pytest.fixture(scope="session")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("cases") / "handmade")


@pytest.fixture(scope="session")
def handmade_findings(tmp_path_factory: pytest.TempPathFactory, handmade: Path) -> Path:
    out = tmp_path_factory.mktemp("findings") / "handmade"
    detect(handmade, out)
    write_report(out)  # as the CLI does after detect
    return out
