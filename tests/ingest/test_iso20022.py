"""ISO 20022 reader: camt.053 (001.02, 001.08) and pacs.008 (001.02, 001.08) to transfers and
accounts; rejected entries by record number; XML bombs and external entities refused; a reader
that never loses an entry, whatever is missing or garbled in it."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.core import contract
from scamtrace.enrich.case import open_case
from scamtrace.ingest import base
from scamtrace.ingest.base import Batch, IngestError, ReadContext, Rejected, StoppedEarly
from scamtrace.ingest.iso20022 import READER, Iso20022Reader

SAMPLES = Path(__file__).parent / "samples" / "iso20022"
MESSAGES = ("camt053_v02.xml", "camt053_v08.xml", "pacs008_v02.xml", "pacs008_v08.xml")

Row = tuple[str, str, str, str, Decimal, str, str]


def _read(path: Path, batch_rows: int = 500_000, **options: str) -> list[Batch]:
    ctx = ReadContext("ES", path.name, batch_rows, options)
    return list(READER.read(path, ctx))


def _table(batches: list[Batch], name: str) -> pa.Table:
    parts = [b.data for b in batches if b.table == name]
    return pa.concat_tables(parts) if parts else contract.INPUT_TABLES[name].schema.empty_table()


def _transfers(batches: list[Batch]) -> list[Row]:
    return [(r["tx_id"], r["time"].isoformat(), r["payer_account"], r["payee_account"],
             r["amount"], r["currency"], r["channel"])
            for r in _table(batches, "transfers").to_pylist()]  # fmt: skip


def _rejected(batches: list[Batch]) -> list[tuple[int, str, str, str]]:
    return [(r.line, r.field, r.value, r.reason) for b in batches for r in b.rejected]


def _accounts(batches: list[Batch]) -> list[tuple[str, ...]]:
    return [(r["account_id"], r["bank"], r["country"], r["holder_id"], r["holder_phone"],
             r["kind"]) for r in _table(batches, "accounts").to_pylist()]  # fmt: skip


ES_LUCIA = "ES9121000418450200051332"
DE_NORDLICHT = "DE44500105175407324931"


# --------------------------------------------------------------------------- exact readings
def test_camt053_v02_rows_accounts_and_rejected_entries() -> None:
    batches = _read(SAMPLES / "camt053_v02.xml")
    day = "2016-07-01T00:00:00+00:00"
    assert _transfers(batches) == [
        # 1: CRDT, the counterparty paid the statement account; interbank TxId is the id
        ("CAIX20160701T0099812", day, "ES7921000813610123456789", ES_LUCIA,
         Decimal("1234.56"), "EUR", "online"),
        # 2: DBIT to a German IBAN (written with spaces): international; AcctSvcrRef scoped
        (f"{ES_LUCIA}/2016070100000544", day, ES_LUCIA, "DE89370400440532013000",
         Decimal("1200.00"), "EUR", "international"),
        # 3: ATM cash withdrawal (PMNT/CCRD/CWDL): no payee
        (f"{ES_LUCIA}/2016070100000601", day, ES_LUCIA, "", Decimal("300.00"), "EUR", "atm"),
        # 5: a batch booking is one transfer per TxDtls
        (f"{ES_LUCIA}/2016070100000700-1", day, ES_LUCIA, "ES6621000418401234567891",
         Decimal("150.00"), "EUR", "online"),
        (f"{ES_LUCIA}/2016070100000700-2", day, ES_LUCIA, "GB29NWBK60161331926819",
         Decimal("75.25"), "EUR", "international"),
    ]  # fmt: skip
    assert _rejected(batches) == [(4, "time", "2016-13-45", "not an ISO 8601 time"),
                                  (6, "amount", "", "missing")]  # fmt: skip
    assert {r.source for b in batches for r in b.rejected} == {"camt053_v02.xml"}
    assert _accounts(batches) == [
        (ES_LUCIA, "CAIXESBBXXX", "ES", "Lucia Fernandez Ruiz", "", "personal")
    ]
    accounts = _table(batches, "accounts").to_pylist()
    assert accounts[0]["opened_on"] is None
    assert _table(batches, "transfers").schema == contract.TRANSFERS.schema


def test_camt053_v08_rows_accounts_and_rejected_entries() -> None:
    batches = _read(SAMPLES / "camt053_v08.xml")
    assert _transfers(batches) == [
        # 1: CRDT from Spain: UETR (no TxId); time with its offset, in UTC
        ("5f3c2a9e-8b1d-4e6f-9a27-3c1d2e4f5a6b", "2016-07-02T07:12:44+00:00",
         "ES6621000418401234567891", DE_NORDLICHT, Decimal("980.00"), "EUR", "international"),
        # 2: proprietary bank transaction code containing ATM
        (f"{DE_NORDLICHT}/INGD2016070200031", "2016-07-02T12:31:08+00:00", DE_NORDLICHT, "",
         Decimal("500.00"), "EUR", "atm"),
        # 3: the transaction's acceptance time (no offset: UTC) and its own AcctSvcrRef
        (f"{DE_NORDLICHT}/INGD2016070200044", "2016-07-02T16:05:00+00:00", DE_NORDLICHT,
         "DE89370400440532013000", Decimal("450.00"), "EUR", "online"),
        # 4: cash paid in at the counter: no payer
        (f"{DE_NORDLICHT}/INGD2016070200052", "2016-07-02T00:00:00+00:00", "", DE_NORDLICHT,
         Decimal("2000.00"), "EUR", "branch"),
    ]  # fmt: skip
    assert _rejected(batches) == [(5, "amount", "1.234,50", "not a positive amount")]
    assert _accounts(batches) == [(DE_NORDLICHT, "INGDDEFFXXX", "DE", "Nordlicht Handels GmbH",
                                   "+494030921187", "business")]  # fmt: skip


def test_pacs008_v02_rows_accounts_and_rejected_entries() -> None:
    batches = _read(SAMPLES / "pacs008_v02.xml")
    sent = "2016-07-01T09:15:00+00:00"
    assert _transfers(batches) == [
        ("CAIX160701TX0000001", sent, ES_LUCIA, "ES3201825322270201549317", Decimal("900.00"),
         "EUR", "online"),
        # no IBAN for the creditor: its agent's BIC says Hong Kong
        ("CAIX160701TX0000002", sent, ES_LUCIA, "004-512-339871-838", Decimal("9800.00"), "EUR",
         "international"),
    ]  # fmt: skip
    assert _rejected(batches) == [(3, "amount", "", "missing")]
    assert _accounts(batches) == [
        (ES_LUCIA, "CAIXESBBXXX", "ES", "Lucia Fernandez Ruiz", "+34612345678", "personal"),
        ("ES3201825322270201549317", "BBVAESMMXXX", "ES", "Pedro Sanz Vidal", "", "personal"),
        ("004-512-339871-838", "HSBCHKHHHKH", "HK", "Golden Harbour Trading Ltd", "",
         "business"),
        ("ES7921000813610123456789", "CAIXESBBXXX", "ES", "Ana Molina Garcia", "", "personal"),
    ]  # fmt: skip


def test_pacs008_v08_in_an_envelope() -> None:
    batches = _read(SAMPLES / "pacs008_v08.xml")
    sent = "2016-07-03T08:00:00+00:00"
    assert _transfers(batches) == [
        ("INGD20160703TX044", sent, DE_NORDLICHT, "ES6621000418401234567891",
         Decimal("2300.00"), "EUR", "international"),
        # no TxId: MsgId/EndToEndId; the acceptance time wins over the message's
        ("INGD-P8-20160703-17/RG-2016-0712", "2016-07-03T07:58:12+00:00", DE_NORDLICHT,
         "DE89370400440532013000", Decimal("75.10"), "EUR", "online"),
        # no usable reference: MsgId#record
        ("INGD-P8-20160703-17#3", sent, DE_NORDLICHT, "GB29NWBK60161331926819",
         Decimal("120.00"), "GBP", "international"),
    ]  # fmt: skip
    assert _rejected(batches) == [(4, "currency", "EURO", "not an ISO 4217 code")]
    assert [a[0] for a in _accounts(batches)] == [
        DE_NORDLICHT, "ES6621000418401234567891", "DE89370400440532013000",
        "GB29NWBK60161331926819", "DE02500105170137075030"]  # fmt: skip
    assert _accounts(batches)[0] == (DE_NORDLICHT, "INGDDEFFXXX", "DE", "Nordlicht Handels GmbH",
                                     "", "business")  # fmt: skip


def test_account_kind_option_and_its_check() -> None:
    batches = _read(SAMPLES / "camt053_v08.xml", account_kind="personal")
    assert [a[-1] for a in _accounts(batches)] == ["personal"]
    with pytest.raises(IngestError, match="account_kind"):
        _read(SAMPLES / "camt053_v08.xml", account_kind="corporate")


def test_batches_hold_at_most_batch_rows() -> None:
    for name in MESSAGES:
        whole = _read(SAMPLES / name)
        small = _read(SAMPLES / name, batch_rows=2)
        assert all(b.data.num_rows <= 2 for b in small)
        assert _transfers(small) == _transfers(whole)
        assert sorted(_rejected(small)) == sorted(_rejected(whole))
        assert _accounts(small) == _accounts(whole)


def test_a_large_statement_streams_in_batches(tmp_path: Path) -> None:
    entry = ('<Ntry><Amt Ccy="EUR">{n}.01</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>'
             '2016-07-01</Dt></BookgDt><AcctSvcrRef>R{n}</AcctSvcrRef></Ntry>')  # fmt: skip
    n = 20_000
    path = tmp_path / "big.xml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
                 "<BkToCstmrStmt><Stmt><Id>S</Id><Acct><Id><IBAN>" + ES_LUCIA +
                 "</IBAN></Id></Acct>")  # fmt: skip
        for i in range(1, n + 1):
            fh.write(entry.format(n=i))
        fh.write("</Stmt></BkToCstmrStmt></Document>")
    batches = _read(path, batch_rows=3000)
    transfers = [b for b in batches if b.table == "transfers"]
    assert [b.data.num_rows for b in transfers] == [3000] * 6 + [2000]
    rows = _table(batches, "transfers")
    assert rows.num_rows == n and not _rejected(batches)
    assert rows.column("amount")[-1].as_py() == Decimal(f"{n}.01")
    assert rows.column("tx_id")[0].as_py() == f"{ES_LUCIA}/R1"


# ------------------------------------------------------------------------ damaged or hostile
@pytest.mark.parametrize("name", ["billion_laughs.xml", "xxe_local_file.xml",
                                  "xxe_external_dtd.xml"])  # fmt: skip
def test_bombs_and_external_entities_are_refused_at_once(name: str) -> None:
    path = SAMPLES / name
    started = time.monotonic()
    with pytest.raises(IngestError) as caught:
        _read(path)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert str(path) in message and "DTD" in message
    assert "root:" not in message  # nothing of /etc/passwd


def test_absurd_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.xml"
    path.write_text('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
                    + "<a>" * 5000 + "</a>" * 5000 + "</Document>")  # fmt: skip
    with pytest.raises(IngestError, match="nest deeper"):
        _read(path)


def test_prefixed_elements_read_alike(tmp_path: Path) -> None:
    for name in MESSAGES:
        tree = ET.parse(SAMPLES / name)  # ElementTree writes every element with a prefix
        path = tmp_path / name
        tree.write(path, encoding="utf-8", xml_declaration=True)
        assert "<ns0:" in path.read_text(encoding="utf-8")
        again, original = _read(path), _read(SAMPLES / name)
        assert _transfers(again) == _transfers(original)
        assert _rejected(again) == _rejected(original)
        assert _accounts(again) == _accounts(original)


def test_a_cut_file_keeps_the_entries_before_the_cut(tmp_path: Path) -> None:
    text = (SAMPLES / "camt053_v02.xml").read_text(encoding="utf-8")
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: text.index("2016070100000700-2")], encoding="utf-8")
    batches = _read(cut)
    assert [r[0] for r in _transfers(batches)] == [
        "CAIX20160701T0099812",
        f"{ES_LUCIA}/2016070100000544",
        f"{ES_LUCIA}/2016070100000601",
    ]
    rejected = _rejected(batches)
    assert rejected[0] == (4, "time", "2016-13-45", "not an ISO 8601 time")
    line, field, _value, reason = rejected[1]
    assert (line, field) == (5, "") and reason.startswith("not well-formed XML")
    assert len(rejected) == 2


def test_gzip_and_a_truncated_gzip(tmp_path: Path) -> None:
    raw = (SAMPLES / "camt053_v08.xml").read_bytes()
    packed = tmp_path / "camt053.xml.gz"
    packed.write_bytes(gzip.compress(raw))
    assert _transfers(_read(packed)) == _transfers(_read(SAMPLES / "camt053_v08.xml"))
    broken = tmp_path / "broken.xml.gz"
    broken.write_bytes(gzip.compress(raw)[: len(gzip.compress(raw)) * 2 // 3])
    batches = _read(broken)
    reasons = [r[3] for r in _rejected(batches)]
    assert any(r.startswith("file ends early (truncated)") for r in reasons)


def test_files_that_are_not_these_messages(tmp_path: Path) -> None:
    csv = tmp_path / "transfers.csv"
    csv.write_text("tx_id,time\nt1,2016-07-01\n")
    with pytest.raises(IngestError, match=r"transfers\.csv"):
        _read(csv)
    camt054 = tmp_path / "notification.xml"
    camt054.write_text('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
                       "<BkToCstmrDbtCdtNtfctn/></Document>")  # fmt: skip
    with pytest.raises(IngestError, match=r"camt\.054"):
        _read(camt054)
    other = tmp_path / "other.xml"
    other.write_text("<invoice><total>1</total></invoice>")
    with pytest.raises(IngestError, match=r"no camt\.053 statement or pacs\.008"):
        _read(other)


def test_sniff() -> None:
    reader = Iso20022Reader()
    assert reader.name == "iso20022" and reader.description
    for name in MESSAGES:
        path = SAMPLES / name
        assert reader.sniff(path, path.read_bytes()[: 1 << 16])
    text = (SAMPLES / "pacs008_v02.xml").read_text(encoding="utf-8")
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert reader.sniff(Path("x.xml"), utf16)
    assert not reader.sniff(Path("transfers.csv"), b"tx_id,time,payer_account\n")
    assert not reader.sniff(Path("notes.txt"), b"we asked the bank for the pacs.008 files")


def test_utf16_message_reads_like_utf8(tmp_path: Path) -> None:
    text = (SAMPLES / "pacs008_v02.xml").read_text(encoding="utf-8")
    path = tmp_path / "utf16.xml"
    path.write_bytes(text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))
    assert _transfers(_read(path)) == _transfers(_read(SAMPLES / "pacs008_v02.xml"))


# --------------------------------------------------------------------- every entry accounted
CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.053."
STRUCTURE = {"Document", "BkToCstmrStmt", "Stmt", "Ntry", "FIToFICstmrCdtTrf", "CdtTrfTxInf",
             "BizMsgEnvlp"}  # fmt: skip


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _expected_outcomes(root: ET.Element) -> dict[int, int]:
    """Rows-or-rejections each record must give: 1, or one per TxDtls of a batch booking
    whose TxDtls all carry an amount."""
    outcomes, number = {}, 0
    for parent in root.iter():
        for elem in parent:
            ns = elem.tag[1:].partition("}")[0]
            if (_local(elem.tag), _local(parent.tag)) == ("CdtTrfTxInf", "FIToFICstmrCdtTrf"):
                number += 1
                outcomes[number] = 1
            elif (_local(elem.tag), _local(parent.tag)) == ("Ntry", "Stmt") and \
                    ns.startswith(CAMT):  # fmt: skip
                number += 1
                details = elem.findall(f"{{{ns}}}NtryDtls/{{{ns}}}TxDtls")
                split = len(details) > 1 and all(
                    tx.find(f"{{{ns}}}Amt") is not None
                    or tx.find(f"{{{ns}}}AmtDtls/{{{ns}}}TxAmt/{{{ns}}}Amt") is not None
                    for tx in details)  # fmt: skip
                outcomes[number] = len(details) if split else 1
    return outcomes


xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
edits = st.lists(st.tuples(st.integers(0, 10_000),
                           st.sampled_from(["remove", "garble", "rename", "currency"]),
                           xml_text), min_size=1, max_size=8)  # fmt: skip


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(name=st.sampled_from(MESSAGES), changes=edits)
def test_perturbed_entries_are_rows_or_rejected(
    tmp_path: Path, name: str, changes: list[tuple[int, str, str]]
) -> None:
    tree = ET.parse(SAMPLES / name)  # the project's own sample: plain ElementTree is fine here
    root = tree.getroot()
    for pick, action, text in changes:
        parents = {child: parent for parent in root.iter() for child in parent}
        targets = [e for e in root.iter() if _local(e.tag) not in STRUCTURE]
        target = targets[pick % len(targets)]
        if action == "remove":
            parents[target].remove(target)
        elif action == "garble":
            target.text = text
        elif action == "rename":
            target.tag += "X"
        elif "Ccy" in target.attrib:
            target.set("Ccy", text)
        else:
            target.attrib.pop("Ccy", None)
    path = tmp_path / f"perturbed-{name}"
    tree.write(path, encoding="utf-8", xml_declaration=True)
    outcomes = _expected_outcomes(root)
    batches = _read(path, batch_rows=3)
    rows = _table(batches, "transfers")
    rejected = [r for b in batches for r in b.rejected]
    assert all(isinstance(r, Rejected) and r.table == "transfers" for r in rejected)
    # every entry is a row or a rejected row: none lost, none twice
    assert rows.num_rows + len(rejected) == sum(outcomes.values())
    for number in {r.line for r in rejected}:
        assert sum(r.line == number for r in rejected) <= outcomes[number]
    ids = rows.column("tx_id").to_pylist()
    assert len(set(ids)) == len(ids) and all(ids)
    assert all(a >= 0 for a in rows.column("amount").to_pylist())
    assert set(rows.column("channel").to_pylist()) <= {"online", "international", "atm",
                                                        "branch"}  # fmt: skip


# ------------------------------------------------------------------------------- case folder
def test_batches_make_a_case_folder_that_opens(tmp_path: Path) -> None:
    batches = [b for name in MESSAGES for b in _read(SAMPLES / name)]
    case = tmp_path / "case"
    case.mkdir()
    for name in ("transfers", "accounts"):
        table = _table(batches, name)
        if name == "accounts":  # the same account from two messages: keep its first record
            seen: set[str] = set()
            keep = []
            for account in table.column("account_id").to_pylist():
                keep.append(account not in seen)
                seen.add(account)
            table = table.filter(pa.array(keep))
        pq.write_table(table, case / f"{name}.parquet")
    (case / "holder.json").write_text(json.dumps({"country": "ES"}))
    opened = open_case(case)
    assert {"transfers", "accounts"} <= set(opened.present)
    assert opened.rows_read["transfers"] == 14 and opened.rows_set_aside["transfers"] == 0
    assert opened.rows_read["accounts"] == 9 and opened.rows_set_aside["accounts"] == 0
    loaded = dict(opened.db.execute("SELECT tx_id, amount FROM transfers").fetchall())
    assert loaded["CAIX20160701T0099812"] == pytest.approx(1234.56)
    first = opened.db.execute('SELECT min("time") FROM transfers').fetchall()[0][0]
    assert first == int(dt.datetime(2016, 7, 1, tzinfo=dt.UTC).timestamp())


def test_a_text_over_the_limit_stops_the_reader_after_the_records_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a text of any length was held whole (a 1 GB ``Ustrd`` in a small .xml.gz)."""
    monkeypatch.setattr(base, "MAX_RECORD_BYTES", 1 << 16)
    text = (SAMPLES / "pacs008_v08.xml").read_text(encoding="utf-8")
    infos = text.split("<CdtTrfTxInf>")
    assert len(infos) > 2
    long = infos[2].replace("</CdtTrfTxInf>", "<RmtInf><Ustrd>" + "x" * 100_000
                            + "</Ustrd></RmtInf></CdtTrfTxInf>", 1)  # fmt: skip
    path = tmp_path / "pacs.xml"
    path.write_text("<CdtTrfTxInf>".join([*infos[:2], long, *infos[3:]]), encoding="utf-8")
    got: list[Batch] = []
    with pytest.raises(StoppedEarly, match="longer than 65536 characters in record 2"):
        got.extend(READER.read(path, ReadContext("CN", path.name)))
    transfers = [r for b in got if b.table == "transfers" for r in b.data.to_pylist()]
    assert len(transfers) == 1  # the record before it
