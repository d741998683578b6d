"""Values read right or set aside with their reason, whatever the format (issue 21): amounts
with decimal commas and thousands groupings, sub-cent and ambiguous amounts, negative
durations, and times that are no times (the epoch, words, year 0, years past 9999)."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from scamtrace.ingest import asterisk, freeswitch
from scamtrace.ingest.base import ReadContext, Reader, Rejected
from scamtrace.ingest.contract_tables import READER
from scamtrace.ingest.iso20022 import READER as ISO

TRANSFERS = ["tx_id", "time", "payer_account", "payee_account", "amount", "currency", "channel"]
CARRIER = ["call_id", "start_time", "caller_number", "called_number", "duration_s", "answered",
           "ingress_trunk", "ingress_country"]  # fmt: skip
SAMPLES = Path(__file__).parent / "samples"


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(header)
    out.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _read(path: Path, reader: Reader = READER, **options: object
          ) -> tuple[list[dict[str, object]], list[Rejected]]:  # fmt: skip
    batches = list(reader.read(path, ReadContext("CN", path.name, options=options)))
    rows = [r for b in batches for r in b.data.to_pylist()]
    return rows, [r for b in batches for r in b.rejected]


def _transfer(i: int, amount: str) -> list[str]:
    return [f"t{i}", "2016-07-01T10:00:00Z", "a", "b", amount, "CNY", "online"]


# ------------------------------------------------------------------------------------ amounts

def test_amounts_with_decimal_commas_and_groupings_are_read_exactly(tmp_path: Path) -> None:
    amounts = {"12,50": "12.50", "1.234,56": "1234.56", "1,234.56": "1234.56",
               "1 234,56": "1234.56", "1\u00a0234,56": "1234.56", "1'234.56": "1234.56",
               "1,234,567": "1234567.00", "1.234.567,8": "1234567.80", "0,5": "0.50",
               "12.5": "12.50", "1.230": None, "0.500": "0.50", "1234.5600": "1234.56"}
    path = _csv(tmp_path / "transfers.csv", TRANSFERS,
                [_transfer(i, a) for i, a in enumerate(amounts)])
    rows, rejected = _read(path)
    got = {r["tx_id"]: str(r["amount"]) for r in rows}
    for i, (text, value) in enumerate(amounts.items()):
        if value is not None:
            assert got.get(f"t{i}") == value, text
    # "1.230" could be 1230 (a European thousands dot) or 1.23: set aside, never guessed
    assert [(r.line, r.field, r.value) for r in rejected] == [(12, "amount", "1.230")]
    assert "ambiguous" in rejected[0].reason


def test_ambiguous_sub_cent_and_unreadable_amounts_are_set_aside(tmp_path: Path) -> None:
    bad = {"1,234": "ambiguous", "1.234": "ambiguous", "12,500": "ambiguous",
           "0.005": "more than 2 decimal places", "1,005": "ambiguous",
           "0,001": "more than 2 decimal places", "12.345,678": "more than 2 decimal places",
           "NaN": "not a positive amount", "inf": "not a positive amount",
           "-inf": "not a positive amount", "1e3": "not a positive amount",
           "99999999999999999": "too large", "1,2,3": "not a positive amount",
           "-5": "not a positive amount"}  # fmt: skip
    path = _csv(tmp_path / "transfers.csv", TRANSFERS,
                [_transfer(i, a) for i, a in enumerate(bad)] + [_transfer(99, "7")])
    rows, rejected = _read(path)
    assert [(r["tx_id"], str(r["amount"])) for r in rows] == [("t99", "7.00")]
    assert [(r.line, r.field, r.value) for r in rejected] == \
        [(i + 2, "amount", text) for i, text in enumerate(bad)]  # fmt: skip
    for r, why in zip(rejected, bad.values(), strict=True):
        assert why in r.reason, (r.value, r.reason)


def test_iso20022_amounts_are_never_rounded(tmp_path: Path) -> None:
    """xs:decimal allows 5 places: 0.001 was read as 0.00; 1.230 is 1.23 (a '.' is a decimal
    point there, never a thousands separator)."""
    template = (SAMPLES / "iso20022" / "pacs008_v08.xml").read_text(encoding="utf-8")
    first = re.search(r'(<IntrBkSttlmAmt Ccy="[A-Z]{3}">)([^<]+)(<)', template)
    assert first is not None
    for amount, expected in (("0.001", None), ("1.230", "1.23"), ("1234.50", "1234.50")):
        path = tmp_path / f"pacs-{amount}.xml"
        path.write_text(template.replace(first.group(0),
                                         f"{first.group(1)}{amount}{first.group(3)}", 1),
                        encoding="utf-8")  # fmt: skip
        batches = list(ISO.read(path, ReadContext("CN", path.name)))
        rows = [r for b in batches if b.table == "transfers" for r in b.data.to_pylist()]
        rejected = [r for b in batches for r in b.rejected if r.field == "amount"]
        if expected is None:
            assert [(r.line, r.value) for r in rejected] == [(1, amount)]
            assert "more than 2 decimal places" in rejected[0].reason
        else:
            assert not rejected and expected in [str(r["amount"]) for r in rows]


def _reference(text: str) -> Decimal | str:
    """What an amount means, written the slow and obvious way: the value, or why not."""
    s = text.strip().removeprefix("+")
    if s.startswith("-"):
        return "not"
    if re.fullmatch(r"[1-9][0-9]{0,2}[.,][0-9]{3}", s):
        return "ambiguous"
    groups = {r"[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?": (",", "."),
              r"[1-9][0-9]{0,2}(\.[0-9]{3})+(,[0-9]*)?": (".", ","),
              r"[1-9][0-9]{0,2}( [0-9]{3})+([.,][0-9]*)?": (" ", None)}
    if re.fullmatch(r"[0-9]+[.,]?[0-9]*|[.,][0-9]+", s):
        canonical = s.replace(",", ".")
    else:
        for pattern, (group, point) in groups.items():
            if re.fullmatch(pattern, s):
                canonical = s.replace(group, "")
                canonical = canonical.replace(",", ".") if point != "." else canonical
                break
        else:
            return "not"
    value = Decimal(canonical if canonical[0] != "." else "0" + canonical)
    if value != value.quantize(Decimal("0.01")):
        return "precise"
    if value >= Decimal(10) ** 16:
        return "large"
    return value.quantize(Decimal("0.01"))


_AMOUNT_TEXT = st.one_of(
    st.text(alphabet="0123456789.,+- ", min_size=1, max_size=14),
    st.builds(lambda n, sep: f"{n:,}".replace(",", sep), st.integers(0, 10**12),
              st.sampled_from([",", ".", " "])),
    st.decimals(0, 10**9, places=3, allow_nan=False).map(str),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_AMOUNT_TEXT, min_size=1, max_size=20))
@example(["12,50", "1.234,56", "1,234.56", "1 234,56", "1,234", "0.005", "1.230", "0,500"])
def test_amount_kernels_agree_with_the_reference(texts: list[str]) -> None:
    """Property: over any text, the Arrow kernels give the reference's value, or set the
    value aside; never another value (and never a value the reference would not read)."""
    import pyarrow as pa

    from scamtrace.core.amounts import parse_amounts

    values, reasons = parse_amounts(pa.array(texts))
    for text, value, reason in zip(texts, values.to_pylist(), reasons.to_pylist(),
                                   strict=True):  # fmt: skip
        expected = _reference(text)
        if isinstance(expected, Decimal):
            assert value == expected, (text, value, reason)
        elif text.strip():
            assert value is None and reason, (text, value)


# ---------------------------------------------------------------------------- durations

def test_negative_durations_are_set_aside_in_every_format(tmp_path: Path) -> None:
    contract = _csv(tmp_path / "carrier_cdr.csv", CARRIER, [
        ["c1", "2016-07-01T10:00:00Z", "+34912345678", "13800138000", "-5", "true", "T", "ES"],
        ["c2", "2016-07-01T10:00:00Z", "+34912345678", "13800138000", "5", "true", "T", "ES"],
    ])  # fmt: skip
    rows, rejected = _read(contract)
    assert [r["call_id"] for r in rows] == ["c2"]
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == \
        [(2, "duration_s", "-5", "a negative duration")]  # fmt: skip

    line = ('"","34912345678","8613800138000","from-internal","","SIP/alice-00000001",'
            '"SIP/trunk-00000002","Dial","SIP/trunk/8613800138000","2016-07-01 10:00:00",'
            '"2016-07-01 10:00:05","2016-07-01 10:01:05",65,{billsec},"ANSWERED",'
            '"DOCUMENTATION","{uid}",""\n')  # fmt: skip
    master = tmp_path / "Master.csv"
    master.write_text(line.format(billsec=-5, uid="1467367200.1")
                      + line.format(billsec=60, uid="1467367200.2"))  # fmt: skip
    rows, rejected = _read(master, asterisk.READER)
    assert [r["call_id"] for r in rows] == ["1467367200.2"]
    assert [(r.line, r.field, r.reason) for r in rejected] == \
        [(1, "duration_s", "a negative duration")]  # fmt: skip

    def document(uuid: str, billsec: str) -> dict[str, object]:
        return {"variables": {"uuid": uuid, "start_epoch": "1467367200", "billsec": billsec,
                              "sip_to_user": "8613800138000", "hangup_cause": "NORMAL_CLEARING"}}

    calls = tmp_path / "calls.jsonl"
    calls.write_text("".join(json.dumps(document(u, b)) + "\n"
                             for u, b in (("u1", "-5"), ("u2", "60"))))  # fmt: skip
    rows, rejected = _read(calls, freeswitch.READER)
    assert [r["call_id"] for r in rows] == ["u2"]
    assert [(r.line, r.field, r.reason) for r in rejected] == \
        [(1, "duration_s", "a negative duration")]  # fmt: skip


# -------------------------------------------------------------------------------- times

def test_times_that_are_no_times_are_set_aside(tmp_path: Path) -> None:
    times = {"epoch": "not an ISO 8601 time", "now": "not an ISO 8601 time",
             "infinity": "not an ISO 8601 time", "today": "not an ISO 8601 time",
             "0000-01-01T00:00:00Z": "outside 1970-2099",
             "0001-01-01 00:00:00": "outside 1970-2099",
             "10000-01-01T00:00:00Z": "not an ISO 8601 time",
             "2100-01-01T00:00:00Z": "outside 1970-2099",
             "1969-12-31T23:59:59Z": "outside 1970-2099",
             "1970-01-01T00:00:00Z": "a zero time", "1970-01-01 00:00:00": "a zero time",
             "1970-01-01T08:00:00+08:00": "a zero time"}  # fmt: skip
    rows = [[f"t{i}", t, "a", "b", "1", "CNY", "online"] for i, t in enumerate(times)]
    rows.append(["ok", "1970-01-01T00:00:01Z", "a", "b", "1", "CNY", "online"])
    kept, rejected = _read(_csv(tmp_path / "transfers.csv", TRANSFERS, rows))
    assert [r["tx_id"] for r in kept] == ["ok"]
    assert [(r.line, r.field, r.value) for r in rejected] == \
        [(i + 2, "time", t) for i, t in enumerate(times)]  # fmt: skip
    for r, why in zip(rejected, times.values(), strict=True):
        assert why in r.reason, (r.value, r.reason)


def test_dates_out_of_range_are_set_aside(tmp_path: Path) -> None:
    header = ["account_id", "bank", "country", "holder_id", "holder_phone", "opened_on", "kind"]
    rows = [[f"a{i}", "B", "CN", "h", "", d, "personal"]
            for i, d in enumerate(["epoch", "0000-01-01", "10000-01-01", "2016-07-01 x",
                                   "1965-03-01", "2016-07-01"])]  # fmt: skip
    kept, rejected = _read(_csv(tmp_path / "accounts.csv", header, rows))
    assert [(r["account_id"], str(r["opened_on"])) for r in kept] == \
        [("a4", "1965-03-01"), ("a5", "2016-07-01")]  # fmt: skip
    assert [(r.line, r.field) for r in rejected] == [(2, "opened_on"), (3, "opened_on"),
                                                     (4, "opened_on"), (5, "opened_on")]


def test_a_zero_epoch_in_a_freeswitch_cdr_is_unknown(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"variables": {
        "uuid": "u1", "start_epoch": "0", "start_stamp": "1970-01-01 00:00:00", "billsec": "1",
        "sip_to_user": "8613800138000"}}) + "\n")  # fmt: skip
    rows, rejected = _read(calls, freeswitch.READER)
    assert not rows
    assert [(r.line, r.field) for r in rejected] == [(1, "start_time")]
    assert "a zero time" in rejected[0].reason


def test_cells_keep_every_character(tmp_path: Path) -> None:
    """A guard for the tests above: the CSV they write is read back as written."""
    path = _csv(tmp_path / "transfers.csv", TRANSFERS, [_transfer(1, "1,5")])
    rows, _ = _read(path)
    assert [str(r["amount"]) for r in rows] == ["1.50"]


