"""Each detector on the hand-made case: what must be found, what must not, and why."""

from __future__ import annotations

import json
from pathlib import Path

from tests.detect import handmade as hm
from tests.detect.conftest import flagged, read_rows


def test_call_center_lines_and_address_are_found_and_grouped(handmade_findings: Path) -> None:
    accounts = flagged(handmade_findings, "sip_account")
    assert set(accounts) == set(hm.CENTER_ACCOUNTS)
    ips = flagged(handmade_findings, "source_ip")
    assert set(ips) == {hm.CENTER_IP}
    centers = {r["center_id"] for r in [*accounts.values(), *ips.values()]}
    assert len(centers) == 1 and centers != {""}
    assert "caller IDs" in accounts[hm.CENTER_ACCOUNTS[0]]["reason"]


def test_center_is_located_by_its_address(handmade_findings: Path) -> None:
    (center,) = read_rows(handmade_findings / "centers.csv")
    assert center["country"] == "ES"
    assert "Telefonica" in center["asn"]
    assert int(center["lines"]) == 2 and int(center["victims"]) >= 3


def test_family_calling_home_and_airline_are_not_flagged(handmade_findings: Path) -> None:
    accounts = flagged(handmade_findings, "sip_account")
    numbers = flagged(handmade_findings, "caller_number")
    victims = flagged(handmade_findings, "victim_phone")
    assert hm.FAMILY_ACCOUNT not in accounts and hm.AIRLINE_ACCOUNT not in accounts
    assert hm.FAMILY_NUMBER not in numbers and hm.AIRLINE_NUMBER not in numbers
    assert not set(hm.FAMILY_HOME) & set(victims)
    assert hm.FAMILY_IP not in flagged(handmade_findings, "source_ip")


def test_spoofed_numbers_and_victims(handmade_findings: Path) -> None:
    numbers = flagged(handmade_findings, "caller_number")
    assert "+861066110110" in numbers  # the 'police' line, also named in the complaint
    assert "complaint" in numbers["+861066110110"]["reason"]
    spoofed = [n for n in numbers if n.startswith("+86139")]
    assert len(spoofed) == 100  # one fresh mobile per dialled number of the block
    victims = flagged(handmade_findings, "victim_phone")
    assert set(hm.VICTIMS) <= set(victims)
    staged = victims[hm.VICTIMS[0]]["reason"]
    assert "different numbers" in staged  # neighbour call, then the police two days later


def test_mule_chain_followed_and_shop_left_alone(handmade_findings: Path) -> None:
    mules = flagged(handmade_findings, "mule_account")
    assert set(mules) == {hm.MULE, hm.MULE2}
    assert hm.SHOP not in mules
    assert "complaint" in mules[hm.MULE]["reason"]  # the typo in the report was repaired
    transfers = read_rows(handmade_findings / "transfers.csv")
    kinds = sorted(t["kind"] for t in transfers)
    assert kinds == ["cash_out"] * 3 + ["layering"] * 3 + ["victim_payment"] * 3
    paid = flagged(handmade_findings, "victim_paid")
    assert set(paid) == set(hm.VICTIMS)
    (network,) = read_rows(handmade_findings / "networks.csv")
    assert float(network["loss"]) == 153000.0 and network["currency"] == "CNY"
    assert int(network["victims_paid"]) == 3 and int(network["mule_accounts"]) == 2


def test_every_finding_has_a_reason_and_evidence(handmade_findings: Path) -> None:
    entities = read_rows(handmade_findings / "entities.csv")
    assert entities and all(r["reason"].strip() for r in entities)
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in entities)
    evidence = read_rows(handmade_findings / "evidence.csv")
    backed = {(e["kind"], e["value"]) for e in evidence}
    assert {(r["kind"], r["value"]) for r in entities} <= backed
    mule_records = {e["record_id"] for e in evidence if e["value"] == hm.MULE}
    assert {"T00001", "T00002"} <= mule_records and "R001" in mule_records


def test_summary_says_what_was_used(handmade_findings: Path) -> None:
    summary = json.loads((handmade_findings / "summary.json").read_text())
    assert summary["inputs_missing"] == ["transcripts"]
    assert summary["calls_linked"] == summary["rows_read"]["voip_cdr"]
    assert summary["flagged"]["mule_account"] == 2
    assert (handmade_findings / "report.html").is_file()
