"""AMLSim outputs as accounts and transfers: the real tiny sample (accounts.csv, tx.csv,
cash_tx.csv) and a hand-written sample of the larger layout (nodes.csv, transactions.csv)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.core import contract
from scamtrace.ingest.amlsim import READER, amlsim_sar_accounts
from scamtrace.ingest.base import Batch, IngestError, ReadContext, Rejected

UTC = dt.UTC


def _sample_dir() -> Path | None:
    here = Path(__file__).resolve()
    for root in (here.parents[2], here.parents[3]):
        folder = root / "shared" / "data" / "amlsim-tiny"
        if (folder / "accounts.csv").is_file():
            return folder
    return None


SAMPLE = _sample_dir()
needs_sample = pytest.mark.skipif(SAMPLE is None, reason="shared/data/amlsim-tiny not present")


def read(
    path: Path, batch_rows: int = 500_000, **options: object
) -> tuple[pa.Table, list[Rejected]]:
    batches = list(READER.read(path, ReadContext("US", path.name, batch_rows, options)))
    return _join(batches)


def _join(batches: list[Batch]) -> tuple[pa.Table, list[Rejected]]:
    tables = {b.table for b in batches}
    assert len(tables) <= 1
    schema = contract.INPUT_TABLES[tables.pop() if tables else "transfers"].schema
    data = pa.concat_tables([b.data for b in batches]) if batches else schema.empty_table()
    assert data.schema == schema
    return data, [r for b in batches for r in b.rejected]


def source_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- the real sample


@needs_sample
def test_sample_accounts_one_row_each_typed() -> None:
    assert SAMPLE is not None
    data, rejected = read(SAMPLE / "accounts.csv")
    source = source_rows(SAMPLE / "accounts.csv")
    assert rejected == []
    assert data.num_rows == len(source) == 30
    rows = data.to_pylist()
    assert [r["account_id"] for r in rows] == [s["ACCOUNT_ID"] for s in source]
    assert rows[0] == {"account_id": "0", "bank": "AMLSim", "country": "US", "holder_id": "C_0",
                       "holder_phone": "", "opened_on": dt.date(2017, 1, 1), "kind": "personal"}
    assert {r["kind"] for r in rows} == {"personal"}  # business type I: individuals
    # AMLSim's labels stay out of the contract tables
    assert data.column_names == contract.ACCOUNTS.column_names


@needs_sample
def test_sample_transfers_exact_amounts_steps_as_days() -> None:
    assert SAMPLE is not None
    data, rejected = read(SAMPLE / "tx.csv", batch_rows=7)
    source = source_rows(SAMPLE / "tx.csv")
    assert rejected == []
    assert data.num_rows == len(source) == 45
    rows = {r["tx_id"]: r for r in data.to_pylist()}
    assert len(rows) == 45
    for s in source:
        r = rows[s["TXN_ID"]]
        assert r["amount"] == Decimal(s["TXN_AMOUNT_ORIG"])
        assert r["payer_account"] == s["ACCOUNT_ID"]
        assert r["payee_account"] == s["COUNTER_PARTY_ACCOUNT_NUM"]
        assert r["time"] == dt.datetime(2017, 1, 1, tzinfo=UTC) + dt.timedelta(days=int(s["start"]))
        assert r["currency"] == "USD"
        assert r["channel"] == "online"  # every account is in the US: no wire abroad
    assert rows["2"]["amount"] == Decimal("125.05")
    assert rows["2"]["time"] == dt.datetime(2017, 1, 2, tzinfo=UTC)


@needs_sample
def test_sample_cash_fills_one_side_atm_and_branch() -> None:
    assert SAMPLE is not None
    data, rejected = read(SAMPLE / "cash_tx.csv", batch_rows=10)
    source = {s["TXN_ID"]: s for s in source_rows(SAMPLE / "cash_tx.csv")}
    assert rejected == []
    assert data.num_rows == len(source) == 88
    for r in data.to_pylist():
        s = source[r["tx_id"]]
        assert r["amount"] == Decimal(s["TXN_AMOUNT_ORIG"])
        if s["TXN_SOURCE_TYPE_CODE"] == "CASH-OUT":
            assert (r["payer_account"], r["payee_account"], r["channel"]) == \
                (s["ACCOUNT_ID"], "", "atm")  # fmt: skip
        else:
            assert (r["payer_account"], r["payee_account"], r["channel"]) == \
                ("", s["ACCOUNT_ID"], "branch")  # fmt: skip
    channels = [r["channel"] for r in data.to_pylist()]
    assert (channels.count("atm"), channels.count("branch")) == (80, 8)


@needs_sample
def test_sample_every_transfer_account_exists() -> None:
    assert SAMPLE is not None
    accounts, _ = read(SAMPLE / "accounts.csv")
    known = set(accounts.column("account_id").to_pylist())
    for name in ("tx.csv", "cash_tx.csv"):
        transfers, _ = read(SAMPLE / name)
        used = set(transfers.column("payer_account").to_pylist()) | \
            set(transfers.column("payee_account").to_pylist())  # fmt: skip
        assert used - {""} <= known
    tx_ids = [*read(SAMPLE / "tx.csv")[0].column("tx_id").to_pylist(),
              *read(SAMPLE / "cash_tx.csv")[0].column("tx_id").to_pylist()]  # fmt: skip
    assert len(tx_ids) == len(set(tx_ids)) == 133  # one id space: no transfer lost on append


@needs_sample
def test_sample_sar_labels_and_sniffing() -> None:
    assert SAMPLE is not None
    assert amlsim_sar_accounts(SAMPLE) == {"20", "24", "25", "26"}
    assert amlsim_sar_accounts(SAMPLE / "accounts.csv") == {"20", "24", "25", "26"}
    for name in ("accounts.csv", "tx.csv", "cash_tx.csv"):
        path = SAMPLE / name
        assert READER.sniff(path, path.read_bytes()[:65536])
    alerts = SAMPLE / "alerts.csv"
    assert not READER.sniff(alerts, alerts.read_bytes())


@needs_sample
def test_options_base_date_and_currency() -> None:
    assert SAMPLE is not None
    data, _ = read(SAMPLE / "tx.csv", start="2020-03-01", currency="eur")
    first = data.to_pylist()[0]
    assert first["time"] == dt.datetime(2020, 3, 2, tzinfo=UTC)
    assert first["currency"] == "EUR"
    accounts, _ = read(SAMPLE / "accounts.csv", start="2020-03-01", bank="Simbank")
    assert accounts.to_pylist()[0]["opened_on"] == dt.date(2020, 3, 1)
    assert accounts.to_pylist()[0]["bank"] == "Simbank"
    with pytest.raises(IngestError, match="start"):
        read(SAMPLE / "tx.csv", start="yesterday")


# --------------------------------------------------------------------------- the larger layout

NODES = """\
ACCOUNT_ID,CUSTOMER_ID,INIT_BALANCE,COUNTRY,ACCOUNT_TYPE,IS_SAR,TX_BEHAVIOR_ID
100,C_100,5000.00,US,I,false,1
101,C_101,7000.50,US,I,true,1
102,C_102,150000.00,de,BUSINESS,true,2
103,C_103,100.00,US,I,false,1,extra
104,C_104,250.00,US,I,false,1
"""

TRANSACTIONS = """\
TX_ID,SENDER_ACCOUNT_ID,RECEIVER_ACCOUNT_ID,TX_TYPE,TX_AMOUNT,TIMESTAMP,IS_SAR,ALERT_ID
1,100,101,TRANSFER,100.25,0,false,-1
2,101,102,WIRE,9999.99,1,true,7
3,102,101,WIRE,123456789.01,2,true,7

4,104,100,TRANSFER,-5,3,false,-1
5,104,100,TRANSFER,abc,3,false,-1
6,104,100,TRANSFER,1.5,day3,false,-1
7,104,,CASH_OUT,60,4,false,-1
8,100,104,TRANSFER,7,4
9,104,101,TRANSFER,0.10,2017-01-09T10:00:00Z,false,-1
"""


@pytest.fixture
def larger(tmp_path: Path) -> Path:
    (tmp_path / "nodes.csv").write_text(NODES, encoding="utf-8")
    (tmp_path / "transactions.csv").write_text(TRANSACTIONS, encoding="utf-8")
    return tmp_path


def test_larger_layout_accounts(larger: Path) -> None:
    assert READER.sniff(larger / "nodes.csv", NODES.encode())
    data, rejected = read(larger / "nodes.csv")
    assert [(r.line, r.field, r.reason) for r in rejected] == [(5, "", "expected 7 fields, got 8")]
    rows = data.to_pylist()
    assert [r["account_id"] for r in rows] == ["100", "101", "102", "104"]
    assert rows[2] == {"account_id": "102", "bank": "AMLSim", "country": "DE",
                       "holder_id": "C_102", "holder_phone": "", "opened_on": dt.date(2017, 1, 1),
                       "kind": "business"}  # fmt: skip
    assert amlsim_sar_accounts(larger) == {"101", "102"}


def test_larger_layout_transfers_lines_and_channels(larger: Path) -> None:
    assert READER.sniff(larger / "transactions.csv", TRANSACTIONS.encode())
    data, rejected = read(larger / "transactions.csv", batch_rows=2)
    assert sorted((r.line, r.field, r.reason) for r in rejected) == [
        (6, "amount", "not a positive amount"),
        (7, "amount", "not a positive amount"),
        (8, "time", "not an ISO 8601 time"),
        (10, "", "expected 8 fields, got 6"),
    ]
    assert [r.value for r in sorted(rejected, key=lambda r: r.line)][:3] == ["-5", "abc", "day3"]
    rows = {r["tx_id"]: r for r in data.to_pylist()}
    assert sorted(rows) == ["1", "2", "3", "7", "9"]
    assert rows["1"] == {"tx_id": "1", "time": dt.datetime(2017, 1, 1, tzinfo=UTC),
                         "payer_account": "100", "payee_account": "101",
                         "amount": Decimal("100.25"), "currency": "USD", "channel": "online"}
    # a wire from the US to Germany (countries from nodes.csv next to it) and back
    assert rows["2"]["channel"] == rows["3"]["channel"] == "international"
    assert rows["3"]["amount"] == Decimal("123456789.01")
    assert (rows["7"]["payer_account"], rows["7"]["payee_account"], rows["7"]["channel"]) == \
        ("104", "", "atm")  # fmt: skip
    assert rows["9"]["time"] == dt.datetime(2017, 1, 9, 10, tzinfo=UTC)  # ISO text is kept


def test_foreign_flag_without_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "transactions.csv"
    path.write_text("tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_frgn_trxn,"
                    "is_fraud,alert_id\n"
                    "t1,A1,B1,WIRE,10.00,5,true,false,-1\n"
                    "t2,A1,B2,WIRE,11.00,6,false,false,-1\n", encoding="utf-8")  # fmt: skip
    data, rejected = read(path)
    assert rejected == []
    assert [(r["tx_id"], r["channel"], r["time"].day) for r in data.to_pylist()] == \
        [("t1", "international", 6), ("t2", "online", 7)]  # fmt: skip


def test_not_amlsim(tmp_path: Path) -> None:
    contract_accounts = tmp_path / "accounts.csv"
    contract_accounts.write_text("account_id,bank,country,holder_id,holder_phone,opened_on,kind\n"
                                 "a,b,CN,h,,2016-01-01,personal\n")  # fmt: skip
    assert not READER.sniff(contract_accounts, contract_accounts.read_bytes())
    other = tmp_path / "export.csv"
    other.write_text("x,y\n1,2\n")
    with pytest.raises(IngestError, match="not an AMLSim"):
        read(other)
    no_amount = tmp_path / "tx.csv"
    no_amount.write_text("TXN_ID,ACCOUNT_ID,COUNTER_PARTY_ACCOUNT_NUM,start\n1,2,3,4\n")
    with pytest.raises(IngestError, match="no amount column"):
        read(no_amount)


# --------------------------------------------------------------------------- malformed rows

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                                       include_characters=',"\n '), max_size=12)  # fmt: skip
_VALUE = st.one_of(_TEXT, st.integers(-5, 10**6).map(str),
                   st.decimals(-10, 10**9, places=2, allow_nan=False).map(str))  # fmt: skip


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(rows=st.lists(st.tuples(st.lists(_VALUE, min_size=3, max_size=8), st.booleans()),
                     max_size=25))  # fmt: skip
def test_malformed_transactions_never_crash_and_every_row_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[list[str], bool]]
) -> None:
    folder = tmp_path_factory.mktemp("amlsim")
    path = folder / "transactions.csv"
    header = ["TX_ID", "SENDER_ACCOUNT_ID", "RECEIVER_ACCOUNT_ID", "TX_TYPE", "TX_AMOUNT",
              "TIMESTAMP", "IS_SAR", "ALERT_ID"]  # fmt: skip
    expected_line: dict[str, int] = {}
    line = 1
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for i, (values, blank_before) in enumerate(rows):
            if blank_before:
                fh.write("\n")
                line += 1
            line += 1
            expected_line[f"T{i}"] = line
            out.writerow([f"T{i}", *values])
    data, rejected = read(path, batch_rows=4)
    kept = data.column("tx_id").to_pylist()
    lines = [r.line for r in rejected]
    assert len(lines) == len(set(lines))
    # every record is a row or a rejected row, on the line it starts (blank lines count)
    assert sorted([*(expected_line[t] for t in kept), *lines]) == sorted(expected_line.values())
    for r in data.to_pylist():
        assert r["amount"] is not None and r["amount"] >= 0 and r["time"] is not None


# ------------------------------------------------------------- the 2019 sample layout (issue 15)


def test_2019_sample_layout_nodes_and_transactions(tmp_path: Path) -> None:
    (tmp_path / "nodes.csv").write_text(
        "nodeid,isFraud,init_balance,fraudStep\n1,0,1000.5,-1\n2,1,250,12\n3,0,80,-1\n")
    (tmp_path / "transactions.csv").write_text(
        "sourceNodeId,targetNodeId,value,time\n1,2,100.25,3\n2,3,99.5,4\n")
    head = (tmp_path / "transactions.csv").read_bytes()
    assert READER.sniff(tmp_path / "transactions.csv", head)
    assert READER.sniff(tmp_path / "nodes.csv", (tmp_path / "nodes.csv").read_bytes())
    accounts, rejected = read(tmp_path / "nodes.csv")
    assert not rejected and accounts.column("account_id").to_pylist() == ["1", "2", "3"]
    transfers, rejected = read(tmp_path / "transactions.csv")
    assert not rejected
    rows = transfers.to_pylist()
    assert [r["tx_id"] for r in rows] == ["transactions:1", "transactions:2"]
    assert [(r["payer_account"], r["payee_account"], r["amount"]) for r in rows] == \
        [("1", "2", Decimal("100.25")), ("2", "3", Decimal("99.50"))]  # fmt: skip
    assert rows[0]["time"] == dt.datetime(2017, 1, 4, tzinfo=UTC)  # step 3 after the base date
    assert amlsim_sar_accounts(tmp_path) == {"2"}  # isFraud: ground truth, never a table
