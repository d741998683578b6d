"""Call linking holds when the VoIP provider's clock is off the carrier's by up to a minute
(switches without a time source drift): the offset is measured and taken off before matching."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.detect.runner import detect
from scamtrace.enrich.case import open_case
from scamtrace.enrich.clocks import align_voip_clock


def pacsv_read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small_findings(small_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drift") / "findings"
    detect(small_case, out)
    return out


def _drifted(small_case: Path, out: Path, seconds: int) -> Path:
    shutil.copytree(small_case, out, ignore=shutil.ignore_patterns("truth"))
    voip = pq.read_table(small_case / "voip_cdr.parquet")
    shifted = pc.add(voip["start_time"], pa.scalar(seconds * 1_000_000, pa.duration("us")))
    index = voip.schema.get_field_index("start_time")
    pq.write_table(voip.set_column(index, "start_time", shifted), out / "voip_cdr.parquet")
    return out


def _flagged(findings: Path) -> set[tuple[str, str, str, str]]:
    entities = pacsv_read(findings / "entities.csv")
    return {(r["kind"], r["value"], r["network_id"], r["center_id"]) for r in entities
            if float(r["score"]) >= FLAG_THRESHOLD}  # fmt: skip


@pytest.mark.parametrize("seconds", [55, -60])
def test_a_minute_of_clock_drift_changes_no_flag_or_grouping(
    small_case: Path, small_findings: Path, tmp_path: Path, seconds: int
) -> None:
    drifted = _drifted(small_case, tmp_path / "case", seconds)
    result = detect(drifted, tmp_path / "findings")
    assert abs(result.summary["voip_clock"]["offset_s"] + seconds) <= 3
    assert _flagged(tmp_path / "findings") == _flagged(small_findings)
    for name in ("centers.csv", "networks.csv"):
        got = (tmp_path / "findings" / name).read_text(encoding="utf-8")
        assert got == (small_findings / name).read_text(encoding="utf-8"), name


def test_clocks_that_agree_are_left_alone(small_case: Path, small_findings: Path) -> None:
    summary = json.loads((small_findings / "summary.json").read_text())
    assert abs(summary["voip_clock"]["offset_s"]) <= 3  # set-up delay, not a clock


def test_the_offset_is_measured_and_taken_off(small_case: Path, tmp_path: Path) -> None:
    plain = open_case(small_case)
    before = plain.db.execute("SELECT _line, start_time FROM voip_cdr ORDER BY _line").fetchall()
    case = open_case(_drifted(small_case, tmp_path / "case", 45))
    got = align_voip_clock(case, 120, 10)
    assert -48 <= got["offset_s"] <= -42  # the VoIP clock runs 45 s ahead
    after = case.db.execute("SELECT _line, start_time FROM voip_cdr ORDER BY _line").fetchall()
    drift = {t1 - t0 for (_, t0), (_, t1) in zip(before, after, strict=True)}
    assert len(drift) == 1 and abs(drift.pop()) <= 3
