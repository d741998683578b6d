"""Each detector alone, on a few hand-written rows: the input tables it declares are made here
(the case's own through ``open_case``, other detectors' from their declared columns), then
the one detector runs and its own tables are read back."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from scamtrace.core import contract
from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import insert_rows, run
from scamtrace.detect.detector import TableSpec
from scamtrace.detect.registry import CASE_TABLES, DETECTORS, detector
from scamtrace.detect.settings import (
    LINE_LIST,
    MULE_LAYER_DECAY,
    NUMBER_FAMILY,
    DetectSettings,
)
from scamtrace.enrich.case import Case, open_case

T0 = dt.datetime(2016, 7, 1, 8, 0, tzinfo=dt.UTC)
DAY = 86400
SPAIN_IP = "88.1.2.3"


def _at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(seconds: float) -> int:
    return int(T0.timestamp() + seconds)


def _case(root: Path, **tables: list[dict[str, Any]]) -> Case:
    """A case folder holding ``tables`` (rows as column -> value; absent columns empty), the
    victims' side in China and the VoIP provider in Spain, opened as ``detect`` opens it."""
    root.mkdir(parents=True)
    for name, rows in tables.items():
        columns = [c.name for c in contract.INPUT_TABLES[name].columns]
        with (root / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, columns, restval="")
            w.writeheader()
            w.writerows(rows)
    (root / "holder.json").write_text(json.dumps({"country": "CN",
                                                  "tables": {"voip_cdr": "ES"}}))  # fmt: skip
    return open_case(root)


def _given(case: Case, name: str, rows: list[list[Any]]) -> None:
    """Table ``name``, made by another detector, as that detector declares it, with ``rows``."""
    spec = _spec(name)
    types = {"NUMERIC": "DOUBLE"}
    cols = ", ".join(f'"{c}" {types.get(k, k)}' for c, k in spec.columns)
    run(case.db, f"CREATE OR REPLACE TABLE {name} ({cols})")
    insert_rows(case.db, name, rows)


def _spec(name: str) -> TableSpec:
    return next(s for d in DETECTORS for s in d.makes if s.name == name)


def _run_alone(case: Case, name: str) -> object:
    """Run detector ``name`` after checking that every table it needs is there."""
    unit = detector(name)
    present = {str(r[0]) for r in run(case.db, "SELECT table_name FROM duckdb_tables()")}
    if "labels" in unit.needs and "labels" not in present:  # no verdicts: as detect makes it
        detector("labels").run(case, DetectSettings())
        present.add("labels")
    missing = [t for t in unit.needs if t not in present and t not in CASE_TABLES]
    assert not missing, f"{name} needs {missing}: give them first"
    return unit.run(case, DetectSettings())


def _rows(case: Case, sql: str) -> list[tuple[Any, ...]]:
    return run(case.db, sql)


def _voip(n: int, t: float, account: str, shown: str, to: str, talk: int = 0,
          ip: str = SPAIN_IP) -> dict[str, Any]:  # fmt: skip
    return {"call_id": f"V{n}", "start_time": _at(t), "sip_account": account, "source_ip": ip,
            "user_agent": "Z 5.2", "from_number": shown, "to_number": to, "duration_s": talk,
            "sip_status": 200 if talk else 480}  # fmt: skip


def _carrier(n: int, t: float, shown: str, to: str, talk: int = 0,
             country: str = "ES") -> dict[str, Any]:  # fmt: skip
    return {"call_id": f"C{n}", "start_time": _at(t), "caller_number": shown,
            "called_number": to, "duration_s": talk, "answered": str(talk > 0).lower(),
            "ingress_trunk": f"INTL-{country}-01", "ingress_country": country}  # fmt: skip


def test_linking_ties_a_carrier_call_to_the_nearest_voip_call_to_the_same_number(
    tmp_path: Path,
) -> None:
    to, other = "+8613800000001", "+8613800000002"
    case = _case(tmp_path / "case",
                 carrier_cdr=[_carrier(1, 2, "+8613955500001", to),
                              _carrier(2, 40, "+8613955500002", other)],
                 voip_cdr=[_voip(1, 0, "sipA", "+8613955500001", to),
                           _voip(2, 5, "sipB", "+8613955500009", to),  # further from C1
                           _voip(3, 0, "sipA", "+8613955500002", other)])  # 40 s: another call
    assert _run_alone(case, "linking") == 1
    assert _rows(case, """
        SELECT c.call_id, v.call_id, l.dt FROM call_link l
        JOIN carrier_cdr c ON c._line = l.c_line JOIN voip_cdr v ON v._line = l.v_line
    """) == [("C1", "V1", 2)]


def test_lines_score_a_rotating_account_above_one_with_its_own_caller_id(tmp_path: Path) -> None:
    rotating = [_voip(n, 60 * n, "sipROT", f"+86139000000{n:02d}", f"+86138000000{n:02d}")
                for n in range(10)]  # fmt: skip
    own_id = [_voip(100 + n, 60 * n, "sipONE", "+34911234567", f"+86137000000{n:02d}",
                    ip="62.82.1.20") for n in range(10)]  # fmt: skip
    case = _case(tmp_path / "case", voip_cdr=rotating + own_id)
    _run_alone(case, "lines")
    scores = {a: (float(s), r) for a, s, r in _rows(case, "SELECT sip_account, score, reason "
                                                         "FROM sip_scores")}  # fmt: skip
    assert scores["sipROT"][0] >= FLAG_THRESHOLD
    assert "presented 10 different caller IDs local to the people it called" in scores["sipROT"][1]
    assert scores["sipONE"][0] == LINE_LIST < FLAG_THRESHOLD
    assert _rows(case, "SELECT DISTINCT sip_account, count(*) OVER () FROM voip_scam") == [
        ("sipROT", 10)]  # fmt: skip
    assert _rows(case, f"SELECT bad_accounts FROM ip_scores WHERE source_ip = '{SPAIN_IP}'"
                 ) == [(1,)]  # fmt: skip


def test_spoofing_flags_a_number_dialling_a_list_from_abroad_not_a_family_calling_home(
    tmp_path: Path,
) -> None:
    spoofed, family = "+8613955500001", "+8613912345678"
    calls = [_carrier(n, 60 * n, spoofed, f"+86138000000{n:02d}") for n in range(6)]
    calls += [_carrier(10 + n, DAY * n, family, f"+8613700000{n % 2:03d}", talk=900)
              for n in range(6)]  # fmt: skip
    calls.append(_carrier(99, 30, spoofed, "+8613600000001", talk=60, country="CN"))  # at home
    case = _case(tmp_path / "case", carrier_cdr=calls)
    for name in ("call_link", "sip_scores", "voip_scam"):  # no VoIP records: nothing behind
        _given(case, name, [])
    _run_alone(case, "spoofing")
    scores = {f"+{c}": (float(s), r) for c, s, r in _rows(case, "SELECT caller, score, reason "
                                                                "FROM number_scores")}  # fmt: skip
    assert scores[spoofed][0] >= FLAG_THRESHOLD
    assert "each of 6 callees called once" in scores[spoofed][1]
    assert "also in use at home" in scores[spoofed][1]
    assert scores[family][0] == NUMBER_FAMILY < FLAG_THRESHOLD
    assert _rows(case, "SELECT DISTINCT '+' || caller, count(*) OVER () FROM scam_calls") == [
        (spoofed, 6)]  # fmt: skip


def test_journeys_find_who_answered_and_who_was_walked_through_the_script(tmp_path: Path) -> None:
    case = _case(tmp_path / "case")
    walked, once, never = 8613800000001, 8613800000002, 8613800000003
    scam = [
        ["carrier_cdr", 1, "C1", 8613955500001, walked, _epoch(0), True, 120, 0.8, None, None,
         False],
        ["carrier_cdr", 2, "C2", 8613955500002, walked, _epoch(2 * DAY), True, 900, 0.9, None,
         None, False],
        ["carrier_cdr", 3, "C3", 8613955500001, once, _epoch(60), True, 45, 0.8, None, None,
         False],
        ["carrier_cdr", 4, "C4", 8613955500001, never, _epoch(120), False, 0, 0.8, None, None,
         False],
    ]  # fmt: skip
    _given(case, "scam_calls", scam)
    _run_alone(case, "journeys")
    victims = {p: (float(s), r) for p, s, r in _rows(case, "SELECT phone, score, reason "
                                                          "FROM victims")}  # fmt: skip
    assert set(victims) == {walked, once}
    assert victims[walked][0] == pytest.approx(0.95)
    assert "from 2 different numbers over 2 days" in victims[walked][1]
    assert victims[once] == (pytest.approx(0.8), "answered 1 scam call(s), longest 45 s")


def test_mules_follow_victims_money_and_leave_the_shop_alone(tmp_path: Path) -> None:
    victims = [8613800000001, 8613800000002, 8613800000003]
    mule, onward, shop = "6222000000000000001", "6222000000000000002", "6222000000000000009"
    accounts = [{"account_id": f"62220000000010000{k}", "bank": "ICBC", "country": "CN",
                 "holder_id": f"H{k}", "holder_phone": f"+{v}", "opened_on": "2010-01-01",
                 "kind": "personal"} for k, v in enumerate(victims)]  # fmt: skip
    accounts += [
        {"account_id": mule, "bank": "ICBC", "country": "CN", "holder_id": "H91",
         "holder_phone": "+8613600000001", "opened_on": "2016-06-20", "kind": "personal"},
        {"account_id": onward, "bank": "ICBC", "country": "CN", "holder_id": "H92",
         "holder_phone": "+8613600000002", "opened_on": "2016-06-25", "kind": "personal"},
        {"account_id": shop, "bank": "ICBC", "country": "CN", "holder_id": "H99",
         "holder_phone": "+8613600000009", "opened_on": "2005-03-01", "kind": "business"},
    ]  # fmt: skip

    def pay(n: int, t: float, payer: str, payee: str, amount: str) -> dict[str, Any]:
        return {"tx_id": f"T{n}", "time": _at(t), "payer_account": payer, "payee_account": payee,
                "amount": amount, "currency": "CNY", "channel": "mobile"}  # fmt: skip

    transfers = [pay(k, DAY + 3600 * k, f"62220000000010000{k}", mule, "50000.00")
                 for k in range(3)]  # fmt: skip
    transfers.append(pay(10, DAY + 4 * 3600, mule, onward, "140000.00"))
    transfers.append(pay(11, 2 * DAY, "62220000000010000" + "0", shop, "80.00"))
    transfers += [pay(20 + k, DAY + 60 * k, f"6222000000005000{k:03d}", shop, "90.00")
                  for k in range(10)]  # fmt: skip
    case = _case(tmp_path / "case", accounts=accounts, transfers=transfers)
    _given(case, "victims", [[v, 0.8, _epoch(0), _epoch(0), 1, 1, 1, "answered"]
                             for v in victims])  # fmt: skip
    _given(case, "scam_calls", [])
    _run_alone(case, "mules")
    mules = {a: (float(s), layer) for a, s, layer in _rows(case, "SELECT account, score, layer "
                                                                 "FROM mules")}  # fmt: skip
    assert set(mules) == {mule, onward}
    assert mules[mule] == (pytest.approx(0.95), 1)  # three victims, passed on, fresh, personal
    assert mules[onward] == (pytest.approx(0.95 * MULE_LAYER_DECAY), 2)
    assert {p for (p,) in _rows(case, "SELECT phone FROM paid")} == set(victims)
    kinds = dict(_rows(case, "SELECT tx_id, kind FROM fraud_transfers"))
    assert kinds == {"T0": "victim_payment", "T1": "victim_payment", "T2": "victim_payment",
                     "T10": "layering"}  # fmt: skip


def test_complaints_read_a_misremembered_number_as_the_one_that_called(tmp_path: Path) -> None:
    victim, caller = "+8613800000001", "+8613955500001"
    case = _case(
        tmp_path / "case",
        carrier_cdr=[_carrier(1, 0, caller, victim, talk=300)],
        reports=[{"report_id": "R1", "filed_at": _at(5 * DAY), "victim_phone": victim,
                  "reported_numbers": "+8613955500007", "reported_accounts": "",
                  "amount_lost": "1000.00", "currency": "CNY", "language": "zh"},
                 {"report_id": "R2", "filed_at": _at(6 * DAY), "victim_phone": victim,
                  "reported_numbers": "+8613312345678", "reported_accounts": "",
                  "amount_lost": "", "currency": "CNY", "language": "zh"}],
    )  # fmt: skip
    for name in ("narrative_numbers", "narrative_accounts", "narrative_amounts"):
        _given(case, name, [])
    _run_alone(case, "complaints")
    named = _rows(case, "SELECT report_id, '+' || number, repaired FROM complaint_numbers "
                        "ORDER BY 1")  # fmt: skip
    assert named == [("R1", caller, True), ("R2", "+8613312345678", False)]  # too far off
    lost = _rows(case, "SELECT report_id, '+' || phone, lost FROM complaint_victims ORDER BY 1")
    assert lost == [("R1", victim, 1000.0), ("R2", victim, 0.0)]


def test_centers_are_the_accounts_that_share_an_address(tmp_path: Path) -> None:
    case = _case(tmp_path / "case", voip_cdr=[_voip(1, 0, "sipA", "+8613955500001",
                                                    "+8613800000001")])  # fmt: skip
    _given(case, "voip_scam", [[1, "sipA", "1.1.1.1", 0.9], [2, "sipB", "1.1.1.1", 0.9],
                               [3, "sipB", "1.1.1.1", 0.9],
                               [4, "sipC", "2.2.2.2", 0.9]])  # fmt: skip
    day = 86400

    def sim(line: int, first_day: int, score: float) -> list[Any]:
        return [line, 30, 30, first_day * day, (first_day + 2) * day, 0.2, 0, 0, True, False,
                0, 0, 0, score, ""]  # fmt: skip

    # Two SIMs of one pack used the same week, one of the same pack months later, one of
    # another pack, and a close number that was not flagged (a sales line).
    _given(case, "sim_lines", [sim(8613100000010, 1, 0.8), sim(8613100000060, 3, 0.8),
                               sim(8613100000090, 150, 0.8), sim(8613999990000, 2, 0.8),
                               sim(8613100000030, 2, 0.3)])  # fmt: skip
    assert _run_alone(case, "centers") == 5
    centers = _rows(case, "SELECT center, key_kind, key FROM line_center ORDER BY ALL")
    assert centers == [(1, "sip_account", "sipA"), (1, "sip_account", "sipB"),
                       (1, "source_ip", "1.1.1.1"), (2, "sip_account", "sipC"),
                       (2, "source_ip", "2.2.2.2"),
                       (3, "sim_line", "8613100000010"), (3, "sim_line", "8613100000060"),
                       (4, "sim_line", "8613100000090"),
                       (5, "sim_line", "8613999990000")]  # fmt: skip
    places = _rows(case, "SELECT center, country FROM center_place WHERE center > 2 ORDER BY 1")
    assert places == [(3, "CN"), (4, "CN"), (5, "CN")]


def test_list_runs_flag_foreign_numbers_ringing_neighbours_of_one_block(tmp_path: Path) -> None:
    # A dialler abroad: a new Spanish number every call, ringing a block of subscribers in turn.
    run_calls = [_carrier(n, 300 * n, f"+3461100{n:04d}", f"+86138000001{n:02d}")
                 for n in range(8)]  # fmt: skip
    # A relative abroad calling the same two people again and again.
    family = [_carrier(100 + n, 200 * n + 7, "+34622334455", f"+8613900000{n % 2:03d}", talk=600)
              for n in range(4)]  # fmt: skip
    # A stranger abroad calling once, far from the block; a dialler number on one lone call.
    lone = [_carrier(200, 650, "+34633000001", "+8615900012345"),
            _carrier(201, 9 * 3600, "+34611009999", "+8613800000150")]
    case = _case(tmp_path / "case", carrier_cdr=run_calls + family + lone)
    for name in ("call_link", "sim_lines", "number_scores", "scam_calls"):
        _given(case, name, [])
    _run_alone(case, "list_runs")
    flagged = {f"+{c}": float(s) for c, s in _rows(case, "SELECT caller, score FROM number_scores")}
    assert set(flagged) == {f"+3461100{n:04d}" for n in range(8)}, flagged
    assert all(s >= 0.5 for s in flagged.values())
    calls = _rows(case, "SELECT count(*), count(DISTINCT caller) FROM scam_calls")
    assert calls == [(8, 8)]
