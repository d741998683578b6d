"""Transcripts and complaint narratives as evidence in ``detect``.

The hand-made case again, with words added: the family's calls home get transcripts (scam
dialogues on two of them, as if the family's number had been hijacked; ordinary ones on the
rest), the airline's calls ordinary transcripts, and a complaint whose form names nothing but
whose narrative names a number, an account and the sum lost.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect
from scamtrace.language.classifier import THRESHOLD, load_classifier
from scamtrace.report import write_report
from scamtrace.simulate.text import render_transcripts
from tests.conftest import make_case
from tests.detect.conftest import flagged, read_rows
from tests.detect.handmade import (
    AIRLINE_NUMBER,
    BLOCK,
    FAMILY_HOME,
    FAMILY_NUMBER,
    MULE,
    build,
)

#: Carrier call ids of the hand-made case: 100 block calls, 3 call-backs, then the family.
FAMILY_CALLS = [f"C{n:05d}" for n in range(104, 104 + 90)]
AIRLINE_CALLS = [f"C{n:05d}" for n in range(194, 194 + 120)]
#: A number only a complaint's narrative knows (from a phone the carrier does not serve).
NAMED = "+8613311112222"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _transcripts(scam_calls: list[str]) -> list[list[str]]:
    """Scam dialogues on ``scam_calls``; ordinary calls on the other family and airline calls."""
    normal = [c for c in FAMILY_CALLS[:30] + AIRLINE_CALLS[1:40:2] if c not in scam_calls]
    scam_text = render_transcripts(["police"] * len(scam_calls), "zh", 7)
    normal_text = render_transcripts(
        ["normal_family" if c in FAMILY_CALLS else "normal_callcenter" for c in normal], "zh", 8
    )
    clf = load_classifier()
    scores, _ = clf.predict(scam_text + normal_text, ["zh"] * (len(scam_text) + len(normal_text)))
    # The premise of these tests: the classifier reads these texts right.
    assert all(s >= THRESHOLD for s in scores[: len(scam_text)])
    assert all(s < THRESHOLD for s in scores[len(scam_text) :])
    return [[c, "carrier_cdr", "zh", t] for c, t in zip(scam_calls, scam_text, strict=True)] + [
        [c, "carrier_cdr", "zh", t] for c, t in zip(normal, normal_text, strict=True)
    ]


def _case(root: Path, scam_calls: list[str], tables: tuple[str, ...]) -> Path:
    case = build(root, tables=tables)
    _write(case / "transcripts.csv", ["call_id", "source", "language", "text"],
           _transcripts(scam_calls))  # fmt: skip
    return case


@pytest.fixture(scope="module")
def carrier_with_words(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Carrier records only, two scam transcripts on the family's number."""
    root = tmp_path_factory.mktemp("words")
    case = _case(root / "case", FAMILY_CALLS[0:6:3], ("carrier_cdr",))
    detect(case, root / "findings")
    return root / "findings"


def test_two_scam_transcripts_flag_the_number_that_behaviour_missed(
    carrier_with_words: Path,
) -> None:
    numbers = flagged(carrier_with_words, "caller_number")
    assert FAMILY_NUMBER in numbers
    assert "transcribed call(s) read as a scam" in numbers[FAMILY_NUMBER]["reason"]
    assert AIRLINE_NUMBER not in numbers  # ordinary transcripts are no evidence


def test_the_subscriber_on_a_scam_call_is_a_victim(carrier_with_words: Path) -> None:
    victims = flagged(carrier_with_words, "victim_phone")
    heard = {FAMILY_HOME[0]}  # calls 104 and 107 went to the first relative
    assert heard <= set(victims)
    assert "transcript" in victims[FAMILY_HOME[0]]["reason"]
    assert not set(FAMILY_HOME[1:]) & set(victims)  # their calls read as ordinary


def test_transcripts_are_evidence(carrier_with_words: Path) -> None:
    rows = [r for r in read_rows(carrier_with_words / "evidence.csv")
            if r["value"] == FAMILY_NUMBER]  # fmt: skip
    assert {r["record_id"] for r in rows if r["source"] == "transcripts"} == {
        FAMILY_CALLS[0], FAMILY_CALLS[3]}  # fmt: skip


def test_one_transcript_alone_is_a_lead_not_a_finding(tmp_path: Path) -> None:
    case = _case(tmp_path / "case", FAMILY_CALLS[:1], ("carrier_cdr",))
    detect(case, tmp_path / "findings")
    assert FAMILY_NUMBER not in flagged(tmp_path / "findings", "caller_number")
    leads = {r["value"] for r in read_rows(tmp_path / "findings" / "leads.csv")}
    assert FAMILY_NUMBER in leads


def test_narrative_names_what_the_form_left_out(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr", "voip_cdr", "accounts", "transfers"))
    outsider = BLOCK[99]  # called once, never answered: no victim by behaviour
    narrative = (f"我接到自称警察的电话，号码是{NAMED[3:]}，他让我把钱转到安全账户"
                 f"{MULE}，一共转了35000元。")  # fmt: skip
    _write(case / "reports.csv",
           ["report_id", "filed_at", "victim_phone", "reported_numbers", "reported_accounts",
            "amount_lost", "currency", "language", "narrative"],
           [["R9", "2016-07-09T10:00:00Z", outsider[3:], "", "", "", "CNY", "zh", narrative],
            ["R10", "2016-07-10T10:00:00Z", BLOCK[98][3:], "", "", "", "CNY", "zh",
             narrative]])  # fmt: skip
    detect(case, tmp_path / "findings")
    numbers = flagged(tmp_path / "findings", "caller_number")
    assert "named in 2 complaint(s)" in numbers[NAMED]["reason"]
    mules = flagged(tmp_path / "findings", "mule_account")
    assert "named in 2 complaint(s)" in mules[MULE]["reason"]
    paid = flagged(tmp_path / "findings", "victim_paid")
    assert "35,000.00" in paid[outsider]["reason"]
    # The victims' own numbers are never leads against them.
    assert outsider not in flagged(tmp_path / "findings", "caller_number")


@pytest.mark.parametrize(("preset", "seed", "scale"), [("small", 4, None), ("hard", 5, 0.05)])
def test_script_groups_follow_the_networks(tmp_path: Path, preset: str, seed: int,
                                           scale: float | None) -> None:  # fmt: skip
    """Each operation reads its own script: a script group's calls are scam calls of one
    network, and the report shows the groups with their lines."""
    case = make_case(tmp_path, "world", preset, seed=seed, scale=scale)
    detect(case, tmp_path / "findings")
    truth = {(r["source"], r["call_id"]): r["network_id"]
             for r in read_rows(case / "truth" / "calls.csv")}  # fmt: skip
    sources = {r["call_id"]: r["source"] for r in read_rows(case / "truth" / "transcripts.csv")}
    scripts = read_rows(tmp_path / "findings" / "scripts.csv")
    assert len(scripts) >= 4
    pure = listed = scam = 0
    for row in scripts:
        nets = [truth.get((sources[c], c)) for c in row["call_ids"].split(";")]
        listed += len(nets)
        scam += sum(n is not None for n in nets)
        pure += max(nets.count(n) for n in set(nets))
        assert row["example"] and row["scam_type"] != "normal"
    assert scam / listed >= 0.95 and pure / listed >= 0.95, (scam, pure, listed)
    # Scripts of one found network are read by one true network.
    by_network: dict[str, set[str | None]] = {}
    for row in scripts:
        nets = [truth.get((sources[c], c)) for c in row["call_ids"].split(";")]
        by_network.setdefault(row["network_id"], set()).add(max(set(nets), key=nets.count))
    assert all(len(v) == 1 for k, v in by_network.items() if k), by_network
    report = write_report(tmp_path / "findings").read_text(encoding="utf-8")
    assert "Scripts read on its calls" in report
    assert scripts[0]["example"].split(" / ")[0] in report


def test_without_transcripts_the_scripts_table_is_empty(tmp_path: Path) -> None:
    case = build(tmp_path / "case")
    detect(case, tmp_path / "findings")
    assert read_rows(tmp_path / "findings" / "scripts.csv") == []
    summary = (tmp_path / "findings" / "summary.json").read_text(encoding="utf-8")
    assert '"transcripts"' in summary  # named among the inputs missing
    shutil.rmtree(case)
