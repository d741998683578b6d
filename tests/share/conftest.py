"""Fixtures for the standards exports and the case package: the small world's findings,
detected once per session, and a trimmed copy for the slower checks."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from scamtrace.detect.pipeline import detect


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def row_set(rows: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(r.items())) for r in rows}


@pytest.fixture(scope="session")
def standards_findings(tmp_path_factory: pytest.TempPathFactory, small_case: Path) -> Path:
    """Findings of the small world (seed 1): 2 networks, 16 centers, ~23k entities."""
    out = tmp_path_factory.mktemp("standards") / "findings"
    detect(small_case, out)
    return out


@pytest.fixture(scope="session")
def trimmed_findings(tmp_path_factory: pytest.TempPathFactory, standards_findings: Path) -> Path:
    """The same findings with at most 40 presented numbers and 40 victims of each kind, linked
    or not (every line, IP and mule account kept): the STIX validator takes ~3 ms an object."""
    out = tmp_path_factory.mktemp("standards") / "trimmed"
    shutil.copytree(standards_findings, out)
    rows = read_rows(standards_findings / "entities.csv")
    kept, seen = [], dict[tuple[str, bool], int]()
    for row in rows:
        group = (row["kind"], bool(row["network_id"]))
        seen[group] = seen.get(group, 0) + 1
        if row["kind"] in ("sip_account", "source_ip", "mule_account") or seen[group] <= 40:
            kept.append(row)
    with (out / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return out
