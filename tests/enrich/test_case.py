"""Reading case folders: bad rows set aside with file, line and field; missing tables empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamtrace.core.accounts import account_facts, luhn_ok
from scamtrace.core.errors import CaseFolderError
from scamtrace.core.ips import ip_facts
from scamtrace.core.sql import run
from scamtrace.enrich.case import open_case

HEADER = ("call_id,start_time,caller_number,called_number,duration_s,answered,"
          "ingress_trunk,ingress_country,attestation\n")  # fmt: skip


def _case(tmp_path: Path, body: str, holder: str = '{"country": "CN"}') -> Path:
    (tmp_path / "carrier_cdr.csv").write_text(HEADER + body, encoding="utf-8")
    (tmp_path / "holder.json").write_text(holder, encoding="utf-8")
    return tmp_path


def test_good_rows_are_normalised(tmp_path: Path) -> None:
    case = open_case(_case(tmp_path, (
        "c1,2016-07-01T10:00:00+02:00,13800138000,+86 139 0000 0000,30,true,T1,ES,\n"
        "c2,2016-07-01 08:00:05,anonymous,13900000000,0,0,T1,ES,\n"
    )))  # fmt: skip
    rows = run(case.db, "SELECT call_id, start_time, caller_number, called_number, answered "
                        "FROM carrier_cdr ORDER BY call_id")  # fmt: skip
    assert rows == [("c1", 1467360000, 8613800138000, 8613900000000, True),
                    ("c2", 1467360005, None, 8613900000000, False)]  # fmt: skip
    assert case.present == ["carrier_cdr"] and "voip_cdr" in case.missing
    assert case.count("SELECT count(*) FROM voip_cdr") == 0  # missing: empty, same shape


def test_bad_rows_set_aside_with_line_and_field(tmp_path: Path) -> None:
    case = open_case(_case(tmp_path, (
        "c1,2016-07-01T10:00:00Z,13800138000,13900000000,30,true,T1,ES,\n"
        "c2,yesterday,13800138000,13900000000,30,true,T1,ES,\n"
        "c3,2016-07-01T10:00:00Z,13800138000,13900000000,thirty,true,T1,ES,\n"
        "c4,2016-07-01T10:00:00Z,13800138000,13900000000,30,maybe,T1,ES,\n"
    )))  # fmt: skip
    assert case.rows_read["carrier_cdr"] == 4 and case.rows_set_aside["carrier_cdr"] == 3
    rejected = run(case.db, "SELECT line, field FROM rejected ORDER BY line")
    assert rejected == [(3, "start_time"), (4, "duration_s"), (5, "answered")]
    assert case.count("SELECT count(*) FROM carrier_cdr") == 1


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    (tmp_path / "carrier_cdr.csv").write_text("call_id,start_time\nc1,2016-07-01\n")
    (tmp_path / "holder.json").write_text('{"country": "CN"}')
    with pytest.raises(CaseFolderError, match=r"carrier_cdr.csv: line 1: missing column"):
        open_case(tmp_path)


def test_holder_country_required(tmp_path: Path) -> None:
    (tmp_path / "carrier_cdr.csv").write_text(HEADER)
    with pytest.raises(CaseFolderError, match=r"holder\.json"):
        open_case(tmp_path)
    case = open_case(tmp_path, country="ES")
    assert case.country == "ES"


def test_ip_and_account_facts() -> None:
    facts = ip_facts(["88.1.2.3", "10.0.0.1", "not an ip"])
    assert facts["88.1.2.3"].country == "ES" and facts["88.1.2.3"].network
    assert facts["10.0.0.1"].private and facts["10.0.0.1"].country == ""
    assert facts["not an ip"].country == ""
    accounts = account_facts(["ES9121000418450200051332", "ES9121000418450200051333",
                              "4111111111111111", "4111111111111112"])  # fmt: skip
    assert accounts["ES9121000418450200051332"].valid
    assert accounts["ES9121000418450200051332"].bank
    assert not accounts["ES9121000418450200051333"].valid
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
