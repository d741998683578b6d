"""The line scorer inside ``detect``: on simulated worlds with victim reports, without them,
and with no known fraud line at all."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scamtrace.core.sql import run
from scamtrace.detect.number_reputation import score_reputation
from scamtrace.detect.registry import ORDER
from scamtrace.detect.runner import detect
from scamtrace.detect.settings import DetectSettings
from scamtrace.enrich.case import Case, open_case

REASON = "behaves like the known fraud lines"


def _without_reports(case: Path, root: Path) -> Path:
    out = root / f"{case.name}-no-reports"
    if not out.exists():
        shutil.copytree(case, out, ignore=shutil.ignore_patterns("reports.*"))
    return out


def _up_to_reputation(folder: Path, s: DetectSettings) -> Case:
    """The detectors that run before the reputation step, in detect's order."""
    case = open_case(folder)
    for detector in ORDER:
        if detector.name == "number_reputation":
            return case
        detector.run(case, s)
    raise AssertionError("no reputation step")


def _truth(folder: Path) -> set[tuple[str, str]]:
    with (folder / "truth" / "entities.csv").open(encoding="utf-8", newline="") as fh:
        return {(r["kind"], r["value"].lstrip("+")) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("reports", [True, False], ids=["with-reports", "without-reports"])
def test_reputation_ranks_fraud_lines_first(small_case: Path, tmp_path_factory: pytest.
                                            TempPathFactory, reports: bool) -> None:  # fmt: skip
    folder = small_case if reports else _without_reports(small_case,
                                                         tmp_path_factory.mktemp("cases"))
    s = DetectSettings()
    case = _up_to_reputation(folder, s)
    assert case.has("reports") is reports
    score_reputation(case, s)
    truth = _truth(folder)
    for kind in ("sip_account", "caller_number"):
        rows = run(case.db, "SELECT key, reputation, mode FROM line_reputation WHERE kind = ?",
                   [kind])  # fmt: skip
        assert {m for _, _, m in rows} == {"positive-unlabelled"}
        fraud = np.array([(kind, k) in truth for k, _, _ in rows])
        score = np.array([r for _, r, _ in rows])
        assert 0 < fraud.sum() < len(fraud)
        assert roc_auc_score(fraud, score) > 0.95, kind
        assert score.min() >= 0 and score.max() <= 1
    case.db.close()


def test_no_known_fraud_line_scores_without_labels_and_adds_nothing(small_case: Path) -> None:
    s = DetectSettings()
    case = _up_to_reputation(small_case, s)
    for table in ("complaint_numbers", "number_scores"):
        run(case.db, f"DELETE FROM {table}")
    run(case.db, "UPDATE sip_scores SET score = least(score, 0.4)")
    before = run(case.db, "SELECT sip_account, score, reason FROM sip_scores ORDER BY 1")
    score_reputation(case, s)
    modes = run(case.db, "SELECT kind, min(mode), max(mode), min(reputation), max(reputation) "
                         "FROM line_reputation GROUP BY kind ORDER BY kind")  # fmt: skip
    assert [(k, lo, hi) for k, lo, hi, _, _ in modes] == [
        ("caller_number", "unsupervised", "unsupervised"),
        ("sip_account", "unsupervised", "unsupervised")]  # fmt: skip
    assert all(0 <= lo <= hi <= 1 for *_, lo, hi in modes)
    after = run(case.db, "SELECT sip_account, score, reason FROM sip_scores ORDER BY 1")
    assert before == after
    case.db.close()


def test_detect_runs_the_step_and_cites_it(small_case: Path, tmp_path: Path) -> None:
    result = detect(small_case, tmp_path / "findings")
    assert "number reputation" in result.summary["timings_s"]
    with (tmp_path / "findings" / "entities.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cited = [r for r in rows if REASON in r["reason"]]
    assert cited and {r["kind"] for r in cited} <= {"sip_account", "caller_number"}
    off = detect(small_case, tmp_path / "off", settings=DetectSettings(reputation=False))
    assert off.flagged == result.flagged  # corroboration: it does not change what is flagged here
