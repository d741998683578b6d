"""Reading case folders: bad rows set aside with file, line and field; missing tables empty."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scamtrace.core.accounts import account_facts, has_iban_shape, is_iban, luhn_ok
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


def _write(folder: Path, name: str, header: str, body: str) -> None:
    (folder / f"{name}.csv").write_text(header + "\n" + body, encoding="utf-8")


def test_a_case_folder_is_typed_by_the_rules_ingest_types_by(tmp_path: Path) -> None:
    """Where ``open_case`` and ``ingest`` used to differ, the rule is now ``ingest``'s: the
    contract's required columns per table (not six names for every table), amounts read as
    ingest reads them, times between the epoch and 2100, durations never negative, dates
    from 1900 to 2100. Before, every row below but c1, t1 and the first transcript and
    account was kept, and t1 (a grouped amount) was set aside."""
    folder = _case(tmp_path, (
        "c1,2016-07-01T10:00:00Z,13800138000,13900000000,30,true,T1,ES,\n"
        "c2,2016-07-01T10:00:00Z,13800138000,,30,true,T1,ES,\n"  # kept: see below
        "c3,2016-07-01T10:00:00Z,13800138000,anonymous,30,true,T1,ES,\n"
        "c4,1970-01-01T00:00:00Z,13800138000,13900000000,30,true,T1,ES,\n"  # zero: unknown
        "c5,2150-07-01T10:00:00Z,13800138000,13900000000,30,true,T1,ES,\n"
        "c6,epoch,13800138000,13900000000,30,true,T1,ES,\n"
        "c7,2016-07-01T10:00:00Z,13800138000,13900000000,-5,true,T1,ES,\n"
    ))  # fmt: skip
    _write(tmp_path, "transfers", "tx_id,time,payer_account,payee_account,amount,currency,channel",
           't1,2016-07-01T10:00:00Z,A,B,"1,234.56",CNY,online\n'
           "t2,2016-07-01T10:00:00Z,A,B,,CNY,online\n"  # no amount
           "t3,2016-07-01T10:00:00Z,A,B,0.005,CNY,online\n"  # would need rounding
           "t4,2016-07-01T10:00:00Z,A,B,NaN,CNY,online\n"
           "t5,2016-07-01T10:00:00Z,A,B,1.234,CNY,online\n")  # 1234 or 1.234?  # fmt: skip
    _write(tmp_path, "transcripts", "call_id,source,language,text",
           "c1,carrier_cdr,zh,hello\nc2,carrier_cdr,zh,\n")
    _write(tmp_path, "accounts", "account_id,bank,country,holder_id,holder_phone,opened_on,kind",
           "a1,B,CN,h1,,2016-07-01,personal\na2,B,CN,h2,,1850-07-01,personal\n"
           "a3,B,CN,h3,,2016-07-01 soon,personal\n")  # fmt: skip
    case = open_case(folder)
    # One difference stays: a call whose dialled number is empty is kept (a merged exchange
    # case holds calls whose callee is only a keyed hash; they still show the line).
    assert run(case.db, "SELECT call_id FROM carrier_cdr ORDER BY call_id") == [
        ("c1",), ("c2",), ("c3",)]
    assert run(case.db, "SELECT tx_id, amount FROM transfers") == [("t1", 1234.56)]
    assert run(case.db, "SELECT call_id FROM transcripts") == [("c1",)]
    assert run(case.db, "SELECT account_id FROM accounts") == [("a1",)]
    assert run(case.db, "SELECT tbl, line, field FROM rejected ORDER BY tbl, line") == [
        ("accounts", 3, "opened_on"), ("accounts", 4, "opened_on"),
        ("carrier_cdr", 5, "start_time"), ("carrier_cdr", 6, "start_time"),
        ("carrier_cdr", 7, "start_time"), ("carrier_cdr", 8, "duration_s"),
        ("transcripts", 3, "text"), ("transfers", 3, "amount"), ("transfers", 4, "amount"),
        ("transfers", 5, "amount"), ("transfers", 6, "amount"),
    ]  # fmt: skip


def test_amounts_typed_in_parquet_are_read_with_a_decimal_point(tmp_path: Path) -> None:
    """A Parquet file's numbers are written with a "." decimal point, never a thousands
    separator (as ``ingest`` reads them): 12.500 is 12.5, 1.234 would need rounding."""
    amounts = pa.array([Decimal("12.500"), Decimal("1.234")], pa.decimal128(18, 3))
    pq.write_table(pa.table({"tx_id": ["t1", "t2"], "time": ["2016-07-01T10:00:00Z"] * 2,
                             "payer_account": ["A"] * 2, "payee_account": ["B"] * 2,
                             "amount": amounts, "currency": ["CNY"] * 2,
                             "channel": ["online"] * 2}), tmp_path / "transfers.parquet")
    (tmp_path / "holder.json").write_text('{"country": "CN"}')
    case = open_case(tmp_path)
    assert run(case.db, "SELECT tx_id, amount FROM transfers") == [("t1", 12.5)]
    assert run(case.db, "SELECT line, field FROM rejected") == [(2, "amount")]


def test_one_iban_shape_of_15_to_34_characters() -> None:
    """Norway's IBANs (15 characters) are the shortest: anything shorter is no IBAN, so an
    account number of that shape is checked as a domestic one (before: an invalid IBAN)."""
    assert is_iban("NO9386011117947") and has_iban_shape("NO9386011117947")
    assert not has_iban_shape("NO938601111794") and not has_iban_shape("NO93" + "1" * 31)
    assert has_iban_shape("ES9121000418450200051333")
    assert not is_iban("ES9121000418450200051333")  # the shape, not the check digits
    assert account_facts(["AB12CDEFGHIJ"])["AB12CDEFGHIJ"].scheme == "domestic"
    assert account_facts(["NO9386011117947"])["NO9386011117947"].scheme == "iban"
