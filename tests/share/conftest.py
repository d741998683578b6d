"""Fixtures for the share tests: the small world's findings for the standards exports and the
case package (detected once per session, and a trimmed copy for the slower checks), and
two-agency worlds, simulated, split by holder country, with the whole exchange run once."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.detect.runner import detect
from scamtrace.evaluate import Evaluation, evaluate
from scamtrace.report import write_report
from scamtrace.simulate.split import split_case
from tests.conftest import make_case


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
    write_report(out)  # as the CLI does after detect
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


#: The seed case and the hard world at the scale tests can afford (both presets' full shape).
WORLDS: dict[str, dict[str, object]] = {
    "seed": {"seed": 2, "scale": 0.01},
    "hard": {"seed": 2, "scale": 0.02},
}
KEY_HEX = "5c" * 32


@dataclass
class Exchange:
    fused: Path
    victims_half: Path
    centers_half: Path
    key: Path
    request: Path
    answer: Path
    merged: Path
    findings_merged: Path
    fused_eval: Evaluation
    alone_eval: Evaluation
    merged_eval: Evaluation


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exchange]:
    root = tmp_path_factory.mktemp("exchange")
    key = root / "case.key"
    key.write_text(KEY_HEX + "\n", encoding="ascii")
    key.chmod(0o600)
    done: dict[str, Exchange] = {}
    for preset, overrides in WORLDS.items():
        fused = make_case(root, preset, preset, "parquet", **overrides)
        halves = split_case(fused)
        a, b = halves["CN"], halves["ES"]
        detect(fused, root / f"{preset}-findings-fused")
        detect(a, root / f"{preset}-findings-A")
        request, answer = root / f"{preset}-request.json", root / f"{preset}-answer.json"
        merged, found = root / f"{preset}-merged", root / f"{preset}-findings-merged"
        run_cli("share", "request", str(root / f"{preset}-findings-A"), str(a), "--key",
                str(key), "--out", str(request))  # fmt: skip
        run_cli("share", "answer", str(request), str(b), "--key", str(key), "--out", str(answer),
                "--line-key", str(root / "line.key"))  # fmt: skip
        run_cli("share", "merge", str(answer), str(a), "--key", str(key), "--out", str(merged),
                "--findings", str(found))  # fmt: skip
        done[preset] = Exchange(
            fused, a, b, key, request, answer, merged, found,
            evaluate(root / f"{preset}-findings-fused", fused),
            evaluate(root / f"{preset}-findings-A", a),
            evaluate(found, merged),
        )  # fmt: skip
    return done
