"""SIP user parts written as international digits without ``+`` (``8613800138000``): read as
international where that is a valid number and the holder's national reading is not, by the
pcap, Asterisk and FreeSWITCH readers; and the vectorised validity behind it agrees with
``phonenumbers``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scamtrace.core.phones import (
    international_user_parts,
    valid_international_digits,
    valid_national_digits,
)
from scamtrace.ingest.asterisk import READER as ASTERISK
from scamtrace.ingest.base import ReadContext, coerce, text_table
from scamtrace.ingest.freeswitch import READER as FREESWITCH
from tests.ingest.test_pcap import _sip, _udp, needs_tshark, read, write_pcap

# 954320948 is a valid Spanish number and, after a +, a valid Myanmar one: a Spanish holder's
# own subscriber keeps the national reading.
BOTH_WAYS = "954320948"


def _phonenumbers_valid(digits: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(f"+{digits}")))
    except phonenumbers.NumberParseException:
        return False


def _examples() -> list[str]:
    """Example numbers of every region and type, and near misses of them."""
    rng = random.Random(7)
    values = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE,
                     phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.TOLL_FREE):  # fmt: skip
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
            at = rng.randrange(len(digits))
            values += [digits, digits[:-1], digits + "7",
                       digits[:at] + str((int(digits[at]) + 1) % 10) + digits[at + 1:]]
    return values


def test_validity_agrees_with_phonenumbers_on_every_region() -> None:
    values = _examples()
    got = valid_international_digits(pa.array(values)).to_pylist()
    expected = [_phonenumbers_valid(v) for v in values]
    assert [v for v, g, e in zip(values, got, expected, strict=True) if g != e] == []
    assert sum(expected) > len(values) // 4  # the sample holds plenty of valid numbers


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text("0123456789", min_size=1, max_size=16), min_size=1, max_size=50))
def test_validity_agrees_with_phonenumbers_on_any_digits(values: list[str]) -> None:
    got = valid_international_digits(pa.array(values)).to_pylist()
    assert got == [_phonenumbers_valid(v) for v in values]


def test_which_user_parts_are_international() -> None:
    values = ["8613800138000", "912345678", BOTH_WAYS, "34912345678", "008613800138000",
              "+8613800138000", "86 138 0013 8000", "", "anonymous", "447911123456", "1001"]
    assert international_user_parts(pa.array(values), "ES").to_pylist() == \
        [True, False, False, True, False, False, False, False, False, True, False]  # fmt: skip
    national = valid_national_digits(pa.array(["912345678", BOTH_WAYS, "8613800138000"]), "ES")
    assert national.to_pylist() == [True, True, False]


def test_sip_side_tables_read_user_parts_as_international_whoever_wrote_them() -> None:
    raw = text_table({"call_id": ["c1"], "start_time": ["2016-07-01T10:00:00Z"],
                      "from_number": ["34912345678"], "to_number": ["8613800138000"]}, [1])
    # the contract's voip_cdr as much as a switch's own log (CONTRACT.md: SIP-side tables)
    sip = coerce("voip_cdr", raw, "x", "ES").data.to_pylist()[0]
    assert (sip["from_number"], sip["to_number"]) == ("+34912345678", "+8613800138000")
    # the carrier's table is not SIP-side: its national numbers belong to the holder
    carrier = text_table({"call_id": ["c1"], "start_time": ["2016-07-01T10:00:00Z"],
                          "caller_number": ["8613800138000"], "called_number": ["912345678"]},
                         [1])  # fmt: skip
    plain = coerce("carrier_cdr", carrier, "x", "ES").data.to_pylist()[0]
    assert plain["caller_number"] == "+348613800138000"


def _master_line(call_id: str, src: str, dst: str) -> str:
    fields = ["", src, dst, "from-customers", f'"x" <{src}>', "SIP/alice-00000001", "", "Dial",
              "", "2016-07-01 10:00:00", "", "2016-07-01 10:00:05", "5", "0", "NO ANSWER",
              "DOCUMENTATION", call_id, ""]
    return ",".join(f'"{f}"' if not f.isdigit() else f for f in fields) + "\n"


EXPECTED = {  # call id: (as logged from, to) -> (from_number, to_number), holder ES
    "1.1": (("912345678", "8613800138000"), ("+34912345678", "+8613800138000")),
    "1.2": ((BOTH_WAYS, "447911123456"), ("+34954320948", "+447911123456")),
    "1.3": (("34912345678", "008613800138000"), ("+34912345678", "+8613800138000")),
}


def test_asterisk_reads_international_digits(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("".join(_master_line(c, *logged) for c, (logged, _) in EXPECTED.items()))
    rows = [r for b in ASTERISK.read(path, ReadContext("ES", "x")) for r in b.data.to_pylist()]
    assert {r["call_id"]: (r["from_number"], r["to_number"]) for r in rows} == \
        {c: numbers for c, (_, numbers) in EXPECTED.items()}  # fmt: skip


def test_freeswitch_reads_international_digits(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text("".join(json.dumps({"variables": {
        "uuid": c, "sip_auth_username": "alice", "sip_received_ip": "203.0.113.9",
        "caller_id_number": src, "destination_number": dst, "start_epoch": "1467367200",
        "billsec": "0", "hangup_cause": "NO_USER_RESPONSE"}}) + "\n"
        for c, ((src, dst), _) in EXPECTED.items()))  # fmt: skip
    rows = [r for b in FREESWITCH.read(path, ReadContext("ES", "x")) for r in b.data.to_pylist()]
    assert {r["call_id"]: (r["from_number"], r["to_number"]) for r in rows} == \
        {c: numbers for c, (_, numbers) in EXPECTED.items()}  # fmt: skip


@needs_tshark
@pytest.mark.parametrize(("to_user", "to_number"), [
    ("8613800138000", "+8613800138000"),  # international digits
    ("012345678", "+85512345678"),  # a Cambodian subscriber, dialled nationally
])  # fmt: skip
def test_pcap_reads_international_digits(tmp_path: Path, to_user: str, to_number: str) -> None:
    caller, proxy = "203.0.113.7", "198.51.100.1"
    invite = _sip(f"INVITE sip:{to_user}@{proxy} SIP/2.0", "d-1", "1 INVITE",
                  from_user="85512345678", to_user=to_user)  # fmt: skip
    ok = _sip("SIP/2.0 200 OK", "d-1", "1 INVITE", to_tag="t1", from_user="85512345678",
              to_user=to_user)  # fmt: skip
    bye = _sip(f"BYE sip:{to_user}@{proxy} SIP/2.0", "d-1", "2 BYE", to_tag="t1",
               from_user="85512345678", to_user=to_user)  # fmt: skip
    path = write_pcap(tmp_path / "call.pcap", [
        (1_790_000_000.0, _udp(caller, proxy, invite)),
        (1_790_000_001.0, _udp(proxy, caller, ok)),
        (1_790_000_031.0, _udp(caller, proxy, bye)),
    ])  # fmt: skip
    rows, _ = read(path, country="KH")
    assert [(r["from_number"], r["to_number"]) for r in rows.to_pylist()] == \
        [("+85512345678", to_number)]  # fmt: skip


def test_user_parts_read_alike_whether_values_repeat_or_not() -> None:
    # Repeated values are judged once each, distinct ones one by one: the verdicts agree.
    values = ["8613800138000", "912345678", BOTH_WAYS, "34912345678", "447911123456", "1001",
              "61412345678", "0612345678"]  # fmt: skip
    one_each = international_user_parts(pa.array(values), "ES").to_pylist()
    repeated = international_user_parts(pa.array(values * 20), "ES").to_pylist()
    assert repeated == one_each * 20
    assert one_each[:2] == [True, False] and any(one_each[4:])
