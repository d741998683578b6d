"""The findings folder module (``scamtrace.core.findings``): typed and text reads, the formula
escape taken off on the way in and put on on the way out, and faults named by file, line and
field."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from scamtrace.core import contract
from scamtrace.core import findings as ff
from scamtrace.core.errors import CaseFolderError, FindingsError

ENTITIES = (
    "kind,value,score,network_id,center_id,reason\n"
    "sip_account,'=HYPERLINK(\"x\"),0.9,N1,C01,\"placed calls\nfrom two lines\"\n"
    'caller_number,+34612345678,0.45,"","",-2 named\n'
)


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def test_contract_names_are_the_required_columns_of_the_tables() -> None:
    assert contract.FINDINGS_ENTITIES == ("kind", "value", "score", "network_id", "center_id",
                                          "reason")  # fmt: skip
    assert contract.FINDINGS_TRANSFERS == ("tx_id", "score", "network_id", "kind")
    transfers = contract.FINDINGS_TABLES["transfers"]
    assert transfers.column_names[:4] == list(contract.FINDINGS_TRANSFERS)
    assert transfers.column("amount").arrow_type == contract.AMOUNT
    assert contract.FINDINGS_TABLES["leads"].columns == contract.FINDINGS_ENTITIES_TABLE.columns


def test_typed_read_gives_each_column_its_kind(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, entities=ENTITIES,
        centers="center_id,network_id,country,region,first_seen,last_seen,lines,calls,victims,"
                "asn,extra\nC01,N1,ES,\"\",2016-07-15T17:49:58Z,,5,2721,369,Telefonica,x\n",
        networks="network_id,centers,lines,victims,victims_paid,loss,currency,mule_accounts\n"
                 "N1,13,52,5816,54,1692906.71,CNY,12\n",
    )  # fmt: skip
    entities = ff.read_table(folder, "entities")
    assert entities.schema.field("score").type == pa.float64()
    assert entities.column("score").to_pylist() == [0.9, 0.45]
    # the formula escape is taken off; a plain number and a text cell stay as written
    assert entities.column("value").to_pylist() == ['=HYPERLINK("x")', "+34612345678"]
    assert entities.column("reason").to_pylist() == ["placed calls\nfrom two lines", "-2 named"]
    assert entities.column("network_id").to_pylist() == ["N1", ""]
    centers = ff.read_table(folder, "centers")
    row = centers.to_pylist()[0]
    assert row["first_seen"] == dt.datetime(2016, 7, 15, 17, 49, 58, tzinfo=dt.UTC)
    assert row["last_seen"] is None and row["lines"] == 5 and row["region"] == ""
    assert row["sip_accounts"] is None  # declared, not in the file: null
    assert row["extra"] == "x"  # not declared: kept as text
    assert centers.schema.field("sip_accounts").type == pa.int64()
    loss = ff.read_table(folder, "networks").column("loss").to_pylist()
    assert loss == [decimal.Decimal("1692906.71")]


def test_a_cell_not_of_its_kind_is_named_by_line_and_field(tmp_path: Path) -> None:
    folder = _folder(tmp_path, entities=ENTITIES + "mule_account,ES91,high,N1,,r\n")
    with pytest.raises(FindingsError, match=r"entities\.csv: line 5: field score: 'high'"):
        ff.read_table(folder, "entities")
    # the text read does not judge the values
    assert ff.read_text(folder, "entities").column("score").to_pylist()[-1] == "high"


def test_faults_are_one_error_naming_the_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, entities=ENTITIES + "mule_account,ES91,0.9\n",
                     networks="network_id,centers\nN1,3\n")  # fmt: skip
    with pytest.raises(FindingsError, match=r"entities\.csv: line 5: 3 fields, the header has 6"):
        ff.read_rows(folder, "entities")
    with pytest.raises(FindingsError, match=r"networks\.csv: line 1: missing column 'lines'"):
        ff.read_table(folder, "networks")
    with pytest.raises(FindingsError, match=r"centers\.csv: not found"):
        ff.read_table(folder, "centers")
    (folder / "transfers.csv").write_bytes(b"tx_id,score,network_id,kind\nT1,0.9,N1,\xff\n")
    with pytest.raises(FindingsError, match=r"transfers\.csv: line 2: not UTF-8"):
        ff.read_table(folder, "transfers")
    (folder / "scripts.csv").write_text("script_id,script_id\nS01,S02\n", encoding="utf-8")
    with pytest.raises(FindingsError, match=r"scripts\.csv: line 1: field script_id"):
        ff.read_text(folder, "scripts")
    # a findings fault is a case-folder fault: callers that catch those catch it
    assert issubclass(FindingsError, CaseFolderError)


def test_rows_of_a_table_the_folder_lacks_are_empty(tmp_path: Path) -> None:
    assert ff.read_rows(tmp_path, "evidence") == ([], [])
    assert ff.read_evidence(tmp_path) == []
    assert ff.evidence_spans(tmp_path) == {} and ff.evidence_spans(None) == {}
    assert ff.read_summary(tmp_path) == {}


def test_forgiving_read_counts_what_it_skips(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('\ufeffa,b,a\n007,"",x\n1,2\n1.50,"two\nlines",\'=y\n', "utf-8")
    got = ff.read_forgiving(path, ("a", "c"))
    assert got is not None
    table, bad = got
    assert bad == 1
    assert table.to_pydict() == {"a": ["007", "1.50"], "b": ["", "two\nlines"],
                                 "a_2": ["x", "=y"], "c": ["", ""]}  # fmt: skip
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    table, bad = ff.read_forgiving(path, ("a",)) or (pa.table({}), -1)
    assert (table.column("b").to_pylist(), bad) == (["1"], 0)
    assert ff.read_forgiving(tmp_path / "absent.csv", ("a",)) is None


def test_rows_written_are_inert_and_read_back_exactly(tmp_path: Path) -> None:
    rows = [("sip_account", "=cmd|' /C calc'!A0", 0.9, "N1", "", "@reason"),
            ("caller_number", "+34612345678", 0.5, "", "", "-12.50 lost")]  # fmt: skip
    ff.write_rows(ff.table_path(tmp_path, "entities"), contract.FINDINGS_ENTITIES, rows)
    text = (tmp_path / "entities.csv").read_text(encoding="utf-8")
    assert "'=cmd" in text and "'@reason" in text and ",+34612345678," in text
    assert "\r" not in text
    header, back = ff.read_rows(tmp_path, "entities")
    assert header == list(contract.FINDINGS_ENTITIES)
    assert [tuple(r.values()) for r in back] == [tuple(str(v) for v in r) for r in rows]
    assert not list(tmp_path.glob(".*partial*"))  # written through a sibling, renamed
    ff.write_rows(tmp_path / "crlf.csv", ("a",), [("x",)], line_end="\r\n")
    assert (tmp_path / "crlf.csv").read_bytes() == b"a\r\nx\r\n"


def test_a_typed_table_written_reads_back_the_same(tmp_path: Path) -> None:
    centers = pa.table({
        "center_id": ["C01", "=C02"], "network_id": ["N1", ""], "country": ["ES", ""],
        "region": ["", ""],
        "first_seen": pa.array([dt.datetime(2016, 7, 15, 17, 49, 58), None],
                               pa.timestamp("us", tz="UTC")),
        "last_seen": pa.array([None, None], pa.timestamp("us", tz="UTC")),
        "lines": [5, 1], "calls": pa.array([2721, None], pa.int64()), "victims": [369, 0],
    })  # fmt: skip
    assert ff.write_table(tmp_path, "centers", centers) == 2
    text = (tmp_path / "centers.csv").read_text(encoding="utf-8")
    assert "2016-07-15T17:49:58Z" in text and "'=C02" in text
    back = ff.read_table(tmp_path, "centers")
    assert back.select(centers.column_names).to_pylist() == centers.to_pylist()


def test_a_query_copied_is_inert_and_counted(tmp_path: Path) -> None:
    db = duckdb.connect()
    sql = ("SELECT * FROM (VALUES ('sip_account', '@SUM(1)', 0.9, 'N1', '', 'x'), "
           "('caller_number', '+34612345678', 0.75, '', '', '=y')) "
           "t(kind, value, score, network_id, center_id, reason)")  # fmt: skip
    assert ff.copy_query(db, tmp_path, "entities", sql) == 2
    text = (tmp_path / "entities.csv").read_text(encoding="utf-8")
    assert "'@SUM(1)" in text and "'=y" in text and "+34612345678" in text
    back = ff.read_table(tmp_path, "entities")
    assert back.column("value").to_pylist() == ["@SUM(1)", "+34612345678"]
    assert back.column("score").to_pylist() == [0.9, 0.75]
    assert ff.safe_select(db, "out_entities").count("CASE WHEN") == 5  # the five text columns


def test_summary_and_evidence(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"holder_country": "ES"}), "utf-8")
    assert ff.read_summary(tmp_path) == {"holder_country": "ES"}
    (tmp_path / "summary.json").write_text("{", "utf-8")
    with pytest.raises(FindingsError, match=r"summary\.json: not JSON"):
        ff.read_summary(tmp_path)
    _folder(tmp_path, evidence="kind,value,source,record_id,time,detail\n"
            "sip_account,'=a,voip_cdr,'@1,2016-07-02T00:00:00Z,d\n"
            "sip_account,'=a,voip_cdr,2,2016-07-01T00:00:00Z,d\n")  # fmt: skip
    assert ff.evidence_spans(tmp_path) == {
        ("sip_account", "=a"): ff.EvidenceSpan(2, "2016-07-01T00:00:00Z", "2016-07-02T00:00:00Z")}
    assert [r["record_id"] for r in ff.read_evidence(tmp_path)] == ["@1", "2"]
