"""Evaluation against ground truth: exact counts on hand-made folders, ARI properties."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import CaseFolderError
from scamtrace.evaluate import adjusted_rand_index, evaluate

TRUTH = [
    ("sip_account", "sipA", "N1", "C1"), ("sip_account", "sipB", "N1", "C1"),
    ("sip_account", "sipC", "N1", "C2"), ("sip_account", "sipD", "N2", "C3"),
    ("mule_account", "M1", "N1", ""), ("mule_account", "M2", "N2", ""),
]  # fmt: skip


def _write(path: Path, header: list[str], rows: Sequence[tuple[object, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _folders(tmp_path: Path, found: Sequence[tuple[object, ...]]) -> tuple[Path, Path]:
    case, findings = tmp_path / "case", tmp_path / "findings"
    _write(case / "truth" / "entities.csv", ["kind", "value", "network_id", "center_id", "role"],
           [(k, v, n, c, "") for k, v, n, c in TRUTH])  # fmt: skip
    _write(findings / "entities.csv",
           ["kind", "value", "score", "network_id", "center_id", "reason"], found)  # fmt: skip
    return findings, case


def test_perfect_findings(tmp_path: Path) -> None:
    found = [(k, v, 0.9, f"x{n}", f"y{c}", "r") for k, v, n, c in TRUTH]
    result = evaluate(*_folders(tmp_path, found))
    assert result.kinds["sip_account"].f1 == 1.0 and result.kinds["mule_account"].f1 == 1.0
    assert result.centers.ari == 1.0 and result.networks.ari == 1.0
    assert result.centers.members == 4  # mules belong to no center
    assert result.kinds["victim_phone"].truth == 0 and result.kinds["victim_phone"].f1 == 0.0


def test_counts_false_positives_negatives_and_threshold(tmp_path: Path) -> None:
    found = [
        ("sip_account", "sipA", 0.9, "N1", "C1", "r"),
        ("sip_account", "sipB", 0.49, "N1", "C1", "below the threshold"),
        ("sip_account", "sipX", 0.7, "N1", "C1", "false positive"),
        ("mule_account", "M1", 0.5, "N1", "", "exactly at the threshold"),
    ]
    result = evaluate(*_folders(tmp_path, found))
    sip = result.kinds["sip_account"]
    assert (sip.truth, sip.flagged, sip.true_positives) == (4, 2, 1)
    assert sip.precision == 0.5 and sip.recall == 0.25
    assert sip.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert result.kinds["mule_account"].recall == 0.5


def test_unplaced_members_count_strictly(tmp_path: Path) -> None:
    found = [(k, v, 0.9, n, c, "r") for k, v, n, c in TRUTH]
    found[2] = ("sip_account", "sipC", 0.9, "N1", "", "no center found")
    result = evaluate(*_folders(tmp_path, found))
    assert result.centers.placed == 3 and result.centers.members == 4
    assert result.centers.ari == 1.0
    assert result.centers.ari_strict == 1.0  # sipC alone in C2 either way
    found[0] = ("sip_account", "sipA", 0.9, "N1", "", "no center found")
    result = evaluate(*_folders(tmp_path, found))
    assert result.centers.ari_strict < 1.0


@pytest.mark.parametrize(
    ("truth", "found", "expected"),
    [
        ([0, 0, 1, 1], [0, 0, 1, 2], 0.5714285714285715),
        ([0, 0, 1, 1], [1, 1, 0, 0], 1.0),
        ([0, 0, 0, 0], [0, 1, 2, 3], 0.0),
        ([0, 0, 1, 2], [0, 0, 1, 1], 0.5714285714285715),
    ],
)
def test_ari_textbook_values(truth: list[int], found: list[int], expected: float) -> None:
    assert adjusted_rand_index([str(t) for t in truth], [str(f) for f in found]) == (
        pytest.approx(expected)
    )


@given(st.lists(st.integers(0, 4), min_size=2, max_size=40), st.permutations(range(5)))
def test_ari_is_invariant_under_relabelling(labels: list[int], perm: list[int]) -> None:
    truth = [str(x) for x in labels]
    relabelled = [f"L{perm[x]}" for x in labels]
    assert adjusted_rand_index(truth, relabelled) == pytest.approx(1.0)


def test_missing_file_and_column_are_named(tmp_path: Path) -> None:
    findings, case = _folders(tmp_path, [])
    (findings / "entities.csv").unlink()
    with pytest.raises(CaseFolderError, match=r"entities\.csv: not found") as info:
        evaluate(findings, case)
    assert str(findings / "entities.csv") in str(info.value)
    _write(findings / "entities.csv", ["kind", "value"], [])
    with pytest.raises(CaseFolderError, match="missing column 'score'") as info:
        evaluate(findings, case)
    assert str(findings / "entities.csv") in str(info.value)


def test_missing_truth_file_and_column_are_named(tmp_path: Path) -> None:
    findings, case = _folders(tmp_path, [])
    truth = case / "truth" / "entities.csv"
    _write(truth, ["kind", "value", "network_id", "role"], [])
    with pytest.raises(CaseFolderError, match="missing column 'center_id'") as info:
        evaluate(findings, case)
    assert str(truth) in str(info.value)
    truth.unlink()
    with pytest.raises(CaseFolderError, match="not found") as info:
        evaluate(findings, case)
    assert str(truth) in str(info.value)


def test_values_stay_strings_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    case, findings = tmp_path / "case", tmp_path / "findings"
    _write(case / "truth" / "entities.csv", ["kind", "value", "network_id", "center_id", "role"],
           [("mule_account", "000123", "N1", "", "mule"),
            ("mule_account", "0456", "N1", "", "mule"),
            ("caller_number", "+8613800138000", "N1", "C1", "line")])  # fmt: skip
    _write(findings / "entities.csv",
           ["extra", "kind", "value", "score", "network_id", "center_id", "reason", "more"],
           [("x", "mule_account", "000123", "0.8", "n", "", "r", "y"),
            ("x", "mule_account", "456", "0.8", "n", "", "r", "y"),  # not "0456"
            ("x", "caller_number", "+8613800138000", "1", "n", "", "r", "y")])  # fmt: skip
    result = evaluate(findings, case)
    mule = result.kinds["mule_account"]
    assert (mule.truth, mule.flagged, mule.true_positives) == (2, 2, 1)
    assert result.kinds["caller_number"].f1 == 1.0
    # the flagged line was placed in no center: a member, not placed
    assert (result.centers.members, result.centers.placed) == (1, 0)
    assert result.networks.members == 2 and result.networks.ari == 1.0


def test_ari_strict_counts_unplaced_as_singletons(tmp_path: Path) -> None:
    found = [(k, v, 0.9, n, c, "r") for k, v, n, c in TRUTH]
    found[0] = ("sip_account", "sipA", 0.9, "N1", "", "no center found")
    result = evaluate(*_folders(tmp_path, found))
    # centers over sipA..sipD: truth C1 C1 C2 C3; strict found: own, C1, C2, C3
    assert result.centers.ari_strict == pytest.approx(
        adjusted_rand_index(["C1", "C1", "C2", "C3"], ["u", "C1", "C2", "C3"])
    )
    assert result.centers.ari_strict == pytest.approx(0.0)
    assert result.centers.placed_share == pytest.approx(0.75)


def _transfer_folders(tmp_path: Path) -> tuple[Path, Path]:
    findings, case = _folders(tmp_path, [(k, v, 1, n, c, "r") for k, v, n, c in TRUTH])
    _write(case / "truth" / "transfers.csv", ["tx_id", "network_id", "kind"],
           [("T1", "N1", "victim_payment"), ("T2", "N1", "victim_payment"),
            ("T3", "N1", "layering"), ("T4", "N2", "cash_out")])  # fmt: skip
    _write(findings / "transfers.csv", ["tx_id", "score", "network_id", "kind"],
           [("T1", "0.9", "x", "victim_payment"), ("T3", "0.5", "x", "layering"),
            ("T4", "0.2", "x", "cash_out"), ("T9", "0.95", "x", "layering")])  # fmt: skip
    return findings, case


def test_transfers_scored_and_recalled_per_kind(tmp_path: Path) -> None:
    result = evaluate(*_transfer_folders(tmp_path))
    tx = result.transfers
    assert tx is not None
    assert (tx.truth, tx.flagged, tx.true_positives) == (4, 3, 2)
    assert tx.precision == pytest.approx(2 / 3) and tx.recall == 0.5
    assert result.transfer_recall == {"victim_payment": 0.5, "layering": 1.0, "cash_out": 0.0}
    data = result.to_dict()
    assert data["transfers"]["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_transfers_absent_when_either_file_is(tmp_path: Path) -> None:
    findings, case = _transfer_folders(tmp_path)
    (findings / "transfers.csv").unlink()
    result = evaluate(findings, case)
    assert result.transfers is None and result.transfer_recall == {}
    assert result.to_dict()["transfers"] is None


def test_ari_rejects_labellings_of_different_length() -> None:
    with pytest.raises(ValueError, match="length"):
        adjusted_rand_index(["a", "b"], ["a"])
    assert adjusted_rand_index([], []) == 1.0 and adjusted_rand_index(["a"], ["b"]) == 1.0


def test_cli_json(tmp_path: Path) -> None:
    findings, case = _folders(tmp_path, [(k, v, 1, n, c, "r") for k, v, n, c in TRUTH])
    result = CliRunner().invoke(app, ["evaluate", str(findings), str(case), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kinds"]["sip_account"]["f1"] == 1.0 and data["networks"]["ari"] == 1.0
    assert data == json.loads(json.dumps(evaluate(findings, case).to_dict()))
    assert set(data) == {"kinds", "centers", "networks", "transfers", "transfer_recall"}


def test_cli_table_and_error(tmp_path: Path) -> None:
    findings, case = _transfer_folders(tmp_path)
    result = CliRunner().invoke(app, ["evaluate", str(findings), str(case)])
    assert result.exit_code == 0, result.output
    for text in ("sip_account", "transfers", "ARI centers", "ARI networks"):
        assert text in result.output
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "nowhere"), str(case)])
    assert isinstance(result.exception, CaseFolderError)


def test_truth_copied_as_findings_scores_perfectly(small_case: Path, tmp_path: Path) -> None:
    with (small_case / "truth" / "entities.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    rows = [(t["kind"], t["value"], 1.0, t["network_id"], t["center_id"], "copied")
            for t in truth]  # fmt: skip
    _write(tmp_path / "entities.csv",
           ["kind", "value", "score", "network_id", "center_id", "reason"], rows)  # fmt: skip
    result = evaluate(tmp_path, small_case)
    assert all(m.f1 == 1.0 for m in result.kinds.values())
    assert result.centers.ari == 1.0 and result.networks.ari == 1.0
    phones = sorted(r[1] for r in rows if r[0] == "victim_phone")
    dropped = set(phones[::2])
    half = [r for r in rows if r[0] != "victim_phone" or r[1] not in dropped]
    _write(tmp_path / "entities.csv",
           ["kind", "value", "score", "network_id", "center_id", "reason"], half)  # fmt: skip
    result = evaluate(tmp_path, small_case)
    assert result.kinds["victim_phone"].recall == pytest.approx(0.5, abs=0.01)
    assert result.kinds["victim_phone"].precision == 1.0
    assert all(m.f1 == 1.0 for k, m in result.kinds.items() if k != "victim_phone")
