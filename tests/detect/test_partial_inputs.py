"""Detection with only some of the tables: it works with what it has and says what it lacked."""

from __future__ import annotations

import json
from pathlib import Path

from scamtrace.detect.runner import detect
from tests.detect import handmade as hm
from tests.detect.conftest import flagged, read_rows
from tests.detect.handmade import build


def test_carrier_only_still_finds_spoofed_numbers_and_victims(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("carrier_cdr", "reports"))
    out = tmp_path / "findings"
    detect(case, out)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["inputs_missing"]) == {"voip_cdr", "accounts", "transfers", "transcripts"}
    assert "voip_cdr" in summary["not_possible"]
    numbers = flagged(out, "caller_number")
    assert sum(n.startswith("+86139") for n in numbers) == 100
    assert hm.FAMILY_NUMBER not in numbers and hm.AIRLINE_NUMBER not in numbers
    assert set(hm.VICTIMS) <= set(flagged(out, "victim_phone"))
    assert not flagged(out, "sip_account") and not read_rows(out / "centers.csv")


def test_bank_only_uses_complaints(tmp_path: Path) -> None:
    case = build(tmp_path / "case", tables=("accounts", "transfers", "reports"))
    out = tmp_path / "findings"
    detect(case, out)
    summary = json.loads((out / "summary.json").read_text())
    assert "carrier_cdr" in summary["inputs_missing"]
    # With no calls the money alone shows the mule: three first-time payers' money passed on
    # within hours from a fresh account.
    mules = flagged(out, "mule_account")
    assert hm.MULE in mules and hm.SHOP not in mules
    assert "3 first-time payer" in mules[hm.MULE]["reason"]
    assert hm.VICTIMS[0] in flagged(out, "victim_paid")


def test_nothing_but_holder_json(tmp_path: Path) -> None:
    case = tmp_path / "empty"
    case.mkdir()
    (case / "holder.json").write_text('{"country": "CN"}')
    out = tmp_path / "findings"
    detect(case, out)
    assert read_rows(out / "entities.csv") == []
    assert json.loads((out / "summary.json").read_text())["inputs_used"] == []
