"""Small simulated worlds, detected once per session, opened as the workspace opens them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect
from scamtrace.workspace.data import CaseData
from tests.conftest import make_case


@dataclass
class World:
    case_dir: Path
    findings_dir: Path
    data: CaseData


#: (name, scenario, format, seed): parquet and CSV case folders, two seeds.
WORLDS = (("small-1", "small", "parquet", 1), ("small-2-csv", "small", "csv", 2))


@pytest.fixture(scope="session", params=WORLDS, ids=[w[0] for w in WORLDS])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    name, scenario, fmt, seed = request.param
    root = tmp_path_factory.mktemp("workspace")
    case = make_case(root, name, scenario, fmt=fmt, seed=seed, scale=0.03)
    findings = root / f"{name}-findings"
    detect(case, findings)
    data = CaseData(name, findings, case).open()
    yield World(case, findings, data)
    data.close()
