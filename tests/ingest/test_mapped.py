"""Any CSV through a YAML mapping: a GB18030 carrier export in local time, a Latin-1 bank
statement, a header-less VoIP export; clear mapping errors; malformed rows; a case folder."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.core import contract
from scamtrace.enrich.case import open_case
from scamtrace.ingest import amlsim
from scamtrace.ingest.base import Batch, IngestError, ReadContext, Rejected
from scamtrace.ingest.mapped import READER, _empty_records, load_mapping

SAMPLES = Path(__file__).parent / "samples" / "mapped"
UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> dt.datetime:  # fmt: skip
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def read(path: Path, mapping: Path | str, *, country: str = "CN", batch_rows: int = 500_000,
         **options: object) -> tuple[pa.Table, list[Rejected]]:  # fmt: skip
    ctx = ReadContext(country, path.name, batch_rows, {"mapping": mapping, **options})
    return join(list(READER.read(path, ctx)))


def join(batches: list[Batch]) -> tuple[pa.Table, list[Rejected]]:
    tables = {b.table for b in batches}
    assert len(tables) <= 1
    schema = contract.INPUT_TABLES[tables.pop() if tables else "carrier_cdr"].schema
    data = pa.concat_tables([b.data for b in batches]) if batches else schema.empty_table()
    assert data.schema == schema
    return data, sorted((r for b in batches for r in b.rejected), key=lambda r: r.line)


def write_mapping(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the samples


def test_carrier_gb18030_semicolons_local_time() -> None:
    data, rejected = read(SAMPLES / "carrier_cn.csv", SAMPLES / "carrier_cn.yaml", batch_rows=3)
    common = {"attestation": ""}
    assert data.to_pylist() == [
        {"call_id": "CDR0001", "start_time": at(2016, 7, 1, 2, 0, 0),
         "caller_number": "+85261234567", "called_number": "+8613800138000", "duration_s": 35,
         "answered": True, "ingress_trunk": "GW01 香港国际关口局", "ingress_country": "HK",
         **common},
        {"call_id": "CDR0002", "start_time": at(2016, 7, 1, 2, 5, 30),
         "caller_number": "+8613912345678", "called_number": "+8613800138001", "duration_s": 0,
         "answered": False, "ingress_trunk": "GW02 广州汇接局", "ingress_country": "CN", **common},
        {"call_id": "CDR0004", "start_time": at(2016, 7, 1, 15, 59, 59), "caller_number": "",
         "called_number": "+8613800138003", "duration_s": 12, "answered": True,
         "ingress_trunk": "GW01 香港国际关口局", "ingress_country": "HK", **common},
        {"call_id": "CDR0008", "start_time": at(2016, 7, 2, 0, 0, 0),
         "caller_number": "+85261234567", "called_number": "+8613800138007", "duration_s": 7,
         "answered": True, "ingress_trunk": "GW03 深圳;东莞汇接局", "ingress_country": "HK",
         **common},
    ]  # fmt: skip
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == [
        (4, "start_time", "31/06/2016 10:00:00", "not a time in the format %d/%m/%Y %H:%M:%S"),
        (6, "duration_s", "abc", "not a whole number"),
        (7, "answered", "X", "not true/false"),  # a value the mapping does not list
        (8, "", "CDR0007;02/07/2016 01:00:00;+85261234567;13800138006;10",
         "expected 9 fields, got 5"),
    ]  # fmt: skip
    assert {(r.source, r.table) for r in rejected} == {("carrier_cn.csv", "carrier_cdr")}


def test_bank_latin1_skipped_title_lines_madrid_time() -> None:
    data, rejected = read(SAMPLES / "bank_es.csv", SAMPLES / "bank_es.yaml", country="ES")
    a, b = "ES9121000418450200051332", "ES7921000813610123456789"
    assert data.to_pylist() == [
        {"tx_id": "OP-001", "time": at(2016, 7, 1, 7, 30), "payer_account": a,
         "payee_account": b, "amount": Decimal("1500.00"), "currency": "EUR", "channel": "mobile"},
        {"tx_id": "OP-002", "time": at(2016, 7, 1, 10, 0), "payer_account": a,  # had an offset
         "payee_account": b, "amount": Decimal("250.50"), "currency": "EUR", "channel": "online"},
        {"tx_id": "OP-006", "time": at(2016, 1, 15, 11, 0), "payer_account": b,  # winter: +01:00
         "payee_account": "", "amount": Decimal("600.00"), "currency": "EUR", "channel": "atm"},
    ]  # fmt: skip
    # two title lines, then the header on line 3: the first row is line 4
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == [
        (6, "time", "2016-13-01 10:00:00", "not an ISO 8601 time"),
        (7, "amount", "-20.00", "not a positive amount"),
        (8, "amount", "", "missing"),
    ]


def test_no_header_positions_tabs_and_value_maps() -> None:
    data, rejected = read(SAMPLES / "voip_noheader.tsv", SAMPLES / "voip_noheader.yaml")
    rows = data.to_pylist()
    assert [(r["call_id"], r["sip_status"], r["from_number"], r["to_number"]) for r in rows] == [
        ("V1", 200, "+85261234567", "+8613800138000"),
        ("V2", 486, "+85261234567", "+8613800138001"),  # national numbers of phone_country HK
        ("V3", 487, "+85261234567", "+8613800138002"),
    ]
    assert rows[0]["start_time"] == at(2016, 7, 1, 2, 0, 1)
    assert rows[2]["source_ip"] == "2001:db8::7" and rows[2]["user_agent"] == "Zoiper rv2.10"
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == [
        (4, "sip_status", "GONE", "not a whole number")]


def test_timezone_option_when_the_mapping_has_none(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("id,ts,amt\nx1,2016-07-01 10:00:00,5\nx2,2016-07-01T10:00:00Z,5\n"
                      "x3,2016-07-01 10:00:00-03:00,5\n")  # fmt: skip
    text = "table: transfers\ncolumns: {tx_id: id, time: ts, amount: amt}\n"
    mapping = write_mapping(tmp_path, text)

    def times(data: pa.Table) -> list[dt.datetime]:
        return [r["time"] for r in data.to_pylist()]

    assert times(read(source, mapping)[0]) == [at(2016, 7, 1, 10), at(2016, 7, 1, 10),
                                               at(2016, 7, 1, 13)]  # fmt: skip
    assert times(read(source, mapping, timezone="Asia/Shanghai")[0]) == \
        [at(2016, 7, 1, 2), at(2016, 7, 1, 10), at(2016, 7, 1, 13)]  # fmt: skip
    own = write_mapping(tmp_path, text + "timezone: '-05:00'\n", "own.yaml")
    assert times(read(source, own, timezone="Asia/Shanghai")[0])[0] == at(2016, 7, 1, 15)


def test_time_format_with_offset_date_format_and_case_insensitive_names(tmp_path: Path) -> None:
    source = tmp_path / "accounts_export.csv"
    source.write_text("Acct,Opened,Kind\nA1,01.02.2015,personal\nA2,31.02.2015,personal\n"
                      "A3,,business\n")  # fmt: skip
    mapping = write_mapping(tmp_path, "table: accounts\ncolumns: {account_id: ACCT, opened_on: "
                            "opened, kind: Kind}\ndate_format: '%d.%m.%Y'\n")  # fmt: skip
    data, rejected = read(source, mapping)
    assert [(r["account_id"], r["opened_on"], r["kind"]) for r in data.to_pylist()] == \
        [("A1", dt.date(2015, 2, 1), "personal"), ("A3", None, "business")]  # fmt: skip
    assert [(r.line, r.field, r.reason) for r in rejected] == \
        [(3, "opened_on", "not a date in the format %d.%m.%Y")]  # fmt: skip
    calls = tmp_path / "calls.csv"
    calls.write_text("id,when,to\nc1,2016/07/01 10:00:00 +0800,+8613800138000\n")
    mapping = write_mapping(tmp_path, "table: carrier_cdr\ncolumns: {call_id: id, start_time: "
                            "when, called_number: to}\ntime_format: '%Y/%m/%d %H:%M:%S %z'\n"
                            "timezone: Europe/Madrid\n", "z.yaml")  # fmt: skip
    data, rejected = read(calls, mapping)
    assert rejected == [] and data.to_pylist()[0]["start_time"] == at(2016, 7, 1, 2)


def test_bytes_not_in_the_encoding_are_set_aside_with_their_line(tmp_path: Path) -> None:
    source = tmp_path / "cdr.csv"
    good = "id;ts;b\nc1;2016-07-01T00:00:00Z;13800138000\n".encode("gb18030")
    source.write_bytes(good + b"c2;2016-07-01T00:00:00Z;\xff\xff\n"
                       + "c3;2016-07-01T00:00:00Z;13800138002\n".encode("gb18030"))
    mapping = write_mapping(tmp_path, "table: carrier_cdr\ncolumns: {call_id: id, start_time: "
                            "ts, called_number: b}\ndelimiter: ';'\nencoding: gb18030\n")
    data, rejected = read(source, mapping)
    assert data.column("call_id").to_pylist() == ["c1", "c3"]
    assert [(r.line, r.field, r.reason) for r in rejected] == [(3, "b", "not gb18030 text")]


def test_sniff_never_claims_a_file() -> None:
    path = SAMPLES / "carrier_cn.csv"
    assert READER.sniff(path, path.read_bytes()) is False


# --------------------------------------------------------------------------- mapping errors

BASE = "table: transfers\ncolumns: {tx_id: id, time: ts, amount: amt}\n"


@pytest.mark.parametrize(("text", "message"), [
    ("table: calls\ncolumns: {call_id: a}\n", "table: 'calls' is not a contract table"),
    ("columns: {tx_id: id}\n", "table: Field required"),
    (BASE + "constants: {colour: red}\n", "constants.colour: transfers has no column 'colour'"),
    ("table: transfers\ncolumns: {tx_id: id, amount: amt}\n", "columns: transfers needs time"),
    (BASE + "constants: {tx_id: X}\n", "columns.tx_id: also given in constants"),
    (BASE + "time_format: '%Y-%Q'\n", "time_format: '%Y-%Q'"),
    (BASE + "time_format: 'YYYY-MM-DD'\n", "time_format: 'YYYY-MM-DD' is not a strptime format"),
    (BASE + "timezone: Mars/Olympus\n", "timezone: 'Mars/Olympus' is neither"),
    (BASE + "phone_country: XX\n", "phone_country: 'XX' is not a country"),
    (BASE + "encoding: klingon\n", "encoding: unknown encoding 'klingon'"),
    (BASE + "delimiter: '::'\n", "delimiter: expected one character"),
    (BASE + "skip_rows: -1\n", "skip_rows: Input should be greater than or equal to 0"),
    (BASE + "header: perhaps\n", "header: Input should be a valid boolean"),
    (BASE + "delimeter: ';'\n", "delimeter: Extra inputs are not permitted"),
    (BASE + "header: false\n", "columns.tx_id: without a header, columns are 1-based positions"),
    ("table: transfers\ncolumns: {tx_id: id, time: {joint: [a]}, amount: amt}\n",
     "columns.time.joint: Extra inputs are not permitted"),
    ("table: transfers\ncolumns: [tx_id, time]\n", "columns: Input should be a valid dictionary"),
    ("table: [transfers\n", "line 2: not valid YAML"),
    ("- just\n- a list\n", "expected a mapping with table: and columns:"),
])  # fmt: skip
def test_mapping_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    mapping = write_mapping(tmp_path, text, "carrier.yaml")
    with pytest.raises(IngestError) as err:
        load_mapping(mapping)
    assert str(err.value).startswith(f"{mapping}: ")
    assert message in str(err.value)


def test_unknown_source_column_names_the_mapping_and_the_column(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, "table: carrier_cdr\ncolumns: {call_id: CDR_ID, "
                            "start_time: SEIZURE_TS, called_number: B_NUMBER}\n"
                            "delimiter: ';'\nencoding: gb18030\n", "carrier.yaml")  # fmt: skip
    with pytest.raises(IngestError) as err:
        read(SAMPLES / "carrier_cn.csv", mapping)
    assert str(err.value).startswith(f"{mapping}: columns.called_number: ")
    assert "no column 'B_NUMBER'" in str(err.value) and "B_NUM" in str(err.value)
    joined = write_mapping(tmp_path, "table: carrier_cdr\nheader: false\ndelimiter: tab\n"
                           "columns: {call_id: '1', start_time: '2', called_number: "
                           "{join: ['3', '12']}}\n", "pos.yaml")  # fmt: skip
    wanted = r"pos.yaml: columns.called_number: .* no column '12' \(it has 9 columns\)"
    with pytest.raises(IngestError, match=wanted):
        read(SAMPLES / "voip_noheader.tsv", joined)


def test_no_mapping_or_unreadable_mapping(tmp_path: Path) -> None:
    ctx = ReadContext("CN", "x", 10, {})
    with pytest.raises(IngestError, match="needs a mapping file"):
        list(READER.read(SAMPLES / "carrier_cn.csv", ctx))
    with pytest.raises(IngestError, match="cannot read the mapping file"):
        read(SAMPLES / "carrier_cn.csv", tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- malformed rows

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                                       include_characters=';,"\n 中'), max_size=10)  # fmt: skip
_VALUE = st.one_of(_TEXT, st.sampled_from(["Y", "N", "", "0", "35", "-1", "1e3"]),
                   st.datetimes(min_value=dt.datetime(1900, 1, 1)).map(
                       lambda d: d.strftime("%d/%m/%Y %H:%M:%S")))  # fmt: skip

CARRIER_HEADER = ["CDR_ID", "SEIZURE_TS", "A_NUM", "B_NUM", "DUR", "ANS", "TRUNK_ID",
                  "TRUNK_NAME", "SRC_CC"]  # fmt: skip


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(rows=st.lists(st.tuples(st.lists(_VALUE, min_size=6, max_size=10), st.booleans()),
                     max_size=25))  # fmt: skip
def test_malformed_rows_never_crash_and_every_row_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[list[str], bool]]
) -> None:
    folder = tmp_path_factory.mktemp("mapped")
    text = io.StringIO()
    out = csv.writer(text, delimiter=";", lineterminator="\r\n")
    out.writerow(CARRIER_HEADER)
    expected_line: dict[str, int] = {}
    line = 1
    for i, (values, blank_before) in enumerate(rows):
        if blank_before:
            text.write("\r\n")
            line += 1
        line += 1
        expected_line[f"C{i}"] = line
        out.writerow([f"C{i}", *values])
    path = folder / "export.csv"
    path.write_bytes(text.getvalue().encode("gb18030"))
    data, rejected = read(path, SAMPLES / "carrier_cn.yaml", batch_rows=4)
    kept = data.column("call_id").to_pylist()
    lines = [r.line for r in rejected]
    assert len(lines) == len(set(lines))
    # every record is a row or a rejected row, on the line it starts (blank lines count)
    assert sorted([*(expected_line[c] for c in kept), *lines]) == sorted(expected_line.values())
    for r in data.to_pylist():
        assert r["start_time"] is not None and r["called_number"]


# --------------------------------------------------------------------------- a case folder


def test_batches_make_a_case_folder_that_open_case_loads(tmp_path: Path) -> None:
    batches: dict[str, list[Batch]] = {}
    for source, mapping, country in (("carrier_cn.csv", "carrier_cn.yaml", "CN"),
                                     ("bank_es.csv", "bank_es.yaml", "ES"),
                                     ("voip_noheader.tsv", "voip_noheader.yaml", "HK")):
        ctx = ReadContext(country, source, 2, {"mapping": SAMPLES / mapping})
        for batch in READER.read(SAMPLES / source, ctx):
            batches.setdefault(batch.table, []).append(batch)
    nodes = tmp_path / "amlsim" / "nodes.csv"
    nodes.parent.mkdir()
    nodes.write_text("ACCOUNT_ID,CUSTOMER_ID,INIT_BALANCE,COUNTRY,ACCOUNT_TYPE,IS_SAR\n"
                     "ES9121000418450200051332,C1,100.00,ES,I,true\n"
                     "ES7921000813610123456789,C2,200.00,ES,B,false\n")  # fmt: skip
    for batch in amlsim.READER.read(nodes, ReadContext("ES", "nodes.csv", 1, {})):
        batches.setdefault(batch.table, []).append(batch)
    case = tmp_path / "case"
    case.mkdir()
    counts = {}
    for table, parts in batches.items():
        data = pa.concat_tables([b.data for b in parts])
        pq.write_table(data, case / f"{table}.parquet")
        counts[table] = data.num_rows
    (case / "holder.json").write_text(json.dumps(
        {"country": "CN", "tables": {"transfers": "ES", "accounts": "ES", "voip_cdr": "HK"}}))
    assert counts == {"carrier_cdr": 4, "transfers": 3, "voip_cdr": 3, "accounts": 2}
    opened = open_case(case)
    assert sorted(opened.present) == sorted(counts)
    assert opened.rows_read == counts
    assert all(n == 0 for n in opened.rows_set_aside.values())
    assert opened.count("SELECT count(*) FROM transfers WHERE channel = 'atm'") == 1
    assert opened.count("SELECT count(*) FROM carrier_cdr WHERE answered") == 3


# --------------------------------------------------------------------------- empty lines


def _empty_lines_reference(data: bytes) -> list[int]:
    found, record, inside, current = [], 0, False, b""
    for byte in data:
        char = bytes([byte])
        if char == b'"':
            inside = not inside
        if char == b"\n" and not inside:
            record += 1
            if current in (b"", b"\r"):
                found.append(record)
            current = b""
        else:
            current += char
    return found


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.lists(st.sampled_from([b"a", b",", b'"', b"\n", b"\r\n", b"\r", b"\xe4\xb8\xad"]),
                     max_size=60).map(b"".join),
       chunk=st.integers(1, 9))  # fmt: skip
def test_empty_lines_are_found_across_chunks(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int
) -> None:
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(data)
    assert _empty_records(path, '"', chunk).tolist() == _empty_lines_reference(data)


def test_a_column_the_header_names_twice_is_refused_when_mapped(tmp_path: Path) -> None:
    """Before: the header's second ``AMOUNT`` became ``AMOUNT_2`` and the mapping's ``AMOUNT``
    silently read the first."""
    export = tmp_path / "export.csv"
    export.write_text("ID,TS,AMOUNT,CUR,AMOUNT\nt1,2016-07-01T10:00:00Z,1.00,CNY,999.00\n")
    mapping = write_mapping(tmp_path, "table: transfers\ncolumns: {tx_id: ID, time: TS, "
                            "amount: AMOUNT, currency: CUR}\n")  # fmt: skip
    with pytest.raises(IngestError, match=r"export\.csv: the header names column 'AMOUNT' more"):
        read(export, mapping)
    # a column named once reads as ever, and the repeated one can be named by its new name
    ok = write_mapping(tmp_path, "table: transfers\ncolumns: {tx_id: ID, time: TS, "
                       "amount: AMOUNT_2, currency: CUR}\n", "ok.yaml")  # fmt: skip
    data, rejected = read(export, ok)
    assert [str(v) for v in data.column("amount").to_pylist()] == ["999.00"] and not rejected


def test_amlsim_with_a_repeated_amount_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "transactions.csv"
    path.write_text("TX_ID,SENDER_ACCOUNT_ID,RECEIVER_ACCOUNT_ID,TX_TYPE,TX_AMOUNT,TIMESTAMP,"
                    "IS_SAR,TX_AMOUNT\n1,a,b,TRANSFER,10.00,0,False,99.00\n")  # fmt: skip
    with pytest.raises(IngestError, match="names column 'TX_AMOUNT' more than once"):
        list(amlsim.READER.read(path, ReadContext("CN", path.name)))


def test_records_set_aside_go_out_a_part_at_a_time(tmp_path: Path) -> None:
    """Before: every record DuckDB set aside became a Rejected row at once, in one batch."""
    export = tmp_path / "export.csv"
    export.write_text("ID,TS,AMOUNT,CUR\n" + "x,y\n" * 250_000
                      + "t1,2016-07-01T10:00:00Z,1.00,CNY\n")  # fmt: skip
    mapping = write_mapping(tmp_path, "table: transfers\ncolumns: {tx_id: ID, time: TS, "
                            "amount: AMOUNT, currency: CUR}\n")  # fmt: skip
    ctx = ReadContext("CN", export.name, 500_000, {"mapping": mapping})
    counts = [len(b.rejected) for b in READER.read(export, ctx)]
    assert sum(counts) == 250_000 and max(counts) <= 100_000, counts
