"""The SIM-box rules one by one, on a hand-made carrier-only case.

A pack of four prepaid SIMs of close numbers each dials thirty strangers over a day or two and
falls silent; a fifth SIM of the pack does the same but answers a call it gets; a sales line
dials as many strangers spread over the whole case; a new sales team on four consecutive
numbers starts dialling in the case's last ten days, a closer calling back those who listened;
a lone SIM dials a list briefly with no pack around it; a courier calls strangers who mostly
pick up. Only the four are SIM-box lines.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect
from tests.detect.conftest import flagged, read_rows

T0 = dt.datetime(2016, 7, 1, 9, 0, tzinfo=dt.UTC)
PACK = ("+8613300001000", "+8613300001003", "+8613300001007", "+8613300001012")
ANSWERS = "+8613300001020"  # same pack, but answers the call it receives
SALES = "+8618600000001"
LONE = "+8615900000001"
COURIER = "+8613700000001"
NEW_TEAM = ("+8613300005000", "+8613300005001", "+8613300005002", "+8613300005003")


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim-rules")
    rows: list[list[object]] = []

    def call(t: dt.datetime, caller: str, callee: str, talk: int) -> None:
        rows.append([f"C{len(rows) + 1:05d}", t.strftime("%Y-%m-%dT%H:%M:%SZ"), caller, callee,
                     talk, str(talk > 0).lower(), "IC-CU-01", "CN", ""])  # fmt: skip

    def dial_list(line: str, first: int, day: float, every_s: int, answered_each: int,
                  start: float = 0) -> None:  # fmt: skip
        for k in range(30):
            t = T0 + dt.timedelta(days=start + day * k / 30, seconds=every_s * k)
            callee = f"+86135{first + k:08d}"
            call(t, line, callee, 40 if k % answered_each == 0 else 0)

    for n, sim in enumerate((*PACK, ANSWERS)):
        dial_list(sim, 1000 * n, 1.5, 600, 5)
    call(T0 + dt.timedelta(days=2), "+8613500000001", PACK[0], 0)  # a call-back, unanswered
    call(T0 + dt.timedelta(days=2), "+8613500001001", ANSWERS, 35)  # answered: a phone
    dial_list(SALES, 10_000, 38, 0, 4)
    dial_list(LONE, 20_000, 1.5, 600, 5)
    dial_list(COURIER, 30_000, 38, 0, 1)
    for n, line in enumerate(NEW_TEAM):
        dial_list(line, 40_000 + 1000 * n, 8, 0, 4, start=31)
        for k in range(0, 28, 4):  # the next line's closer calls the one who listened
            t = T0 + dt.timedelta(days=32 + 8 * k / 30)
            call(t, NEW_TEAM[(n + 1) % 4], f"+86135{40_000 + 1000 * n + k:08d}", 300)
    # everyday calls to the last day: the case runs for forty days
    call(T0 + dt.timedelta(days=40), "+8613600000001", "+8613600000002", 120)
    with (root / "carrier_cdr.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["call_id", "start_time", "caller_number", "called_number", "duration_s",
                    "answered", "ingress_trunk", "ingress_country", "attestation"])  # fmt: skip
        w.writerows(rows)
    (root / "holder.json").write_text(json.dumps({"country": "CN"}))
    out = root.parent / "findings"
    detect(root, out)
    return out


def test_only_the_pack_is_flagged(findings: Path) -> None:
    assert set(flagged(findings, "caller_number")) == set(PACK)


def test_the_reason_names_the_evidence(findings: Path) -> None:
    got = flagged(findings, "caller_number")
    assert "one of 5 such lines of close numbers" in got[PACK[1]]["reason"]
    assert "then silent" in got[PACK[1]]["reason"]
    assert "never answered the 1 call it got" in got[PACK[0]]["reason"]
    assert float(got[PACK[0]]["score"]) > float(got[PACK[1]]["score"])


def test_a_line_that_answers_its_calls_stays_a_person(findings: Path) -> None:
    rows = {r["value"]: r for r in read_rows(findings / "entities.csv")}
    rows |= {r["value"]: r for r in read_rows(findings / "leads.csv")}
    assert ANSWERS not in rows or float(rows[ANSWERS]["score"]) < 0.5


def test_those_who_answered_the_pack_are_victims(findings: Path) -> None:
    victims = set(flagged(findings, "victim_phone"))
    pack_answered = {f"+86135{1000 * n + k:08d}" for n in range(len(PACK)) for k in (0, 5, 10)}
    assert pack_answered <= victims
    # nor those of the answering line, the sales line, the lone SIM, the courier, the new team
    others = tuple(f"+86135{k:06d}" for k in (40, 100, 200, 300, 400, 410, 420, 430))
    assert not any(v.startswith(others) for v in victims)
