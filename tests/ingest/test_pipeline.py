"""Ingest safety: rejected rows with file and line, all-or-nothing writes, no row twice,
every encoding a holder uses, truncated files, dry runs, stdin."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.detect.runner import detect
from scamtrace.ingest import writer
from scamtrace.ingest.base import IngestError, ReadContext
from scamtrace.ingest.contract_tables import READER
from scamtrace.ingest.pipeline import ingest
from tests.detect.conftest import flagged
from tests.detect.handmade import build

TRANSFERS = "tx_id,time,payer_account,payee_account,amount,currency,channel\n"
REPORTS = ("report_id,filed_at,victim_phone,reported_numbers,reported_accounts,amount_lost,"
           "currency,language,narrative\n")  # fmt: skip


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_ingested_case_detects_like_the_original(tmp_path: Path) -> None:
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    result = ingest([str(original)], case, holder_country="CN")
    assert result.rejected == 0
    # holder.json of the source folder is not a table: it is reported, not ingested
    assert [s.source for s in result.sources if s.error] == [str(original / "holder.json")]
    (case / "holder.json").write_text((original / "holder.json").read_text())
    detect(case, tmp_path / "f-ingested")
    detect(original, tmp_path / "f-original")
    for kind in ("sip_account", "caller_number", "mule_account", "victim_paid"):
        assert flagged(tmp_path / "f-ingested", kind).keys() == \
            flagged(tmp_path / "f-original", kind).keys()  # fmt: skip


def test_rejected_rows_name_file_line_field_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "transfers.csv"
    source.write_text(TRANSFERS
                      + "t1,2016-07-01T10:00:00Z,a,b,100.00,CNY,online\n"
                      + "t2,not a time,a,b,100.00,CNY,online\n"
                      + "t3,2016-07-01T10:00:00Z,a,b,-4,CNY,online\n"
                      + ",2016-07-01T10:00:00Z,a,b,1,CNY,online\n")  # fmt: skip
    case = tmp_path / "case"
    runner = CliRunner()
    ok = runner.invoke(app, ["ingest", str(source), "--into", str(case), "--holder-country", "CN"])
    assert ok.exit_code == 0, ok.output
    assert "rejected 1: not an ISO 8601 time" in ok.output
    with (case / "rejected" / "rejected.csv").open(encoding="utf-8") as fh:
        rejected = [(r["line"], r["field"], r["reason"]) for r in csv.DictReader(fh)]
    assert rejected == [("3", "time", "not an ISO 8601 time"),
                        ("4", "amount", "not a positive amount"),
                        ("5", "tx_id", "missing")]  # fmt: skip
    assert [r["tx_id"] for r in _rows(case / "transfers.parquet")] == ["t1"]
    other = tmp_path / "more" / "transfers.csv"
    other.parent.mkdir()
    other.write_text(TRANSFERS + "t9,yesterday,a,b,1,CNY,online\n")
    strict = runner.invoke(app, ["ingest", str(other), "--into", str(case), "--strict"])
    assert strict.exit_code == 1


def test_crash_midway_leaves_the_case_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    ingest([str(original / "transfers.csv")], case, holder_country="CN")
    before = _snapshot(case)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.CaseAppender, "_write_rejected", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest([str(original / "carrier_cdr.csv"), str(original / "accounts.csv")], case)
    assert _snapshot(case) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_same_file_twice_and_overlapping_rows_add_nothing_twice(tmp_path: Path) -> None:
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    ingest([str(original / "transfers.csv")], case, holder_country="CN")
    n = len(_rows(case / "transfers.parquet"))
    again = ingest([str(original / "transfers.csv")], case)
    assert again.sources[0].skipped and len(_rows(case / "transfers.parquet")) == n
    overlap = tmp_path / "export" / "transfers.csv"
    overlap.parent.mkdir()
    lines = (original / "transfers.csv").read_text().splitlines()
    overlap.write_text("\n".join([lines[0], *lines[1:4], "T99999,2016-07-09T00:00:00Z,a,b,5,"
                                  "CNY,online"]) + "\n")  # fmt: skip
    ingest([str(overlap)], case)
    ids = [r["tx_id"] for r in _rows(case / "transfers.parquet")]
    assert len(ids) == len(set(ids)) == n + 1
    assert len(json.loads((case / "ingest.json").read_text())["sources"]) == 2


@pytest.mark.parametrize("keys_checked_by", ["hashes", "duckdb", "colliding hashes"])
def test_a_new_case_keeps_one_row_per_key_however_repeats_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_checked_by: str
) -> None:
    if keys_checked_by == "duckdb":
        monkeypatch.setattr(writer, "KEY_HASH_LIMIT", 0)  # too many rows to hold hashes
    elif keys_checked_by == "colliding hashes":  # every hash alike: the exact check decides
        monkeypatch.setattr(writer, "key_hashes", lambda keys: np.zeros(keys.height, np.uint64))
    rows = [f"T{i},2016-07-09T00:00:{i:02d}Z,a{i},b,{i + 1},CNY,online" for i in range(6)]
    distinct = tmp_path / "distinct" / "transfers.csv"
    repeated = tmp_path / "repeated" / "transfers.csv"
    for path, lines in ((distinct, rows), (repeated, [*rows, rows[2].replace(",3,", ",9,")])):
        path.parent.mkdir()
        path.write_text(TRANSFERS + "\n".join(lines) + "\n")
    ingest([str(distinct)], tmp_path / "case-distinct", holder_country="CN")
    assert len(_rows(tmp_path / "case-distinct" / "transfers.parquet")) == 6
    ingest([str(repeated)], tmp_path / "case-repeated", holder_country="CN")
    kept = _rows(tmp_path / "case-repeated" / "transfers.parquet")
    assert sorted(str(r["tx_id"]) for r in kept) == [f"T{i}" for i in range(6)]


@pytest.mark.parametrize(("encoding", "newline", "bom"), [
    ("utf-8", "\n", False), ("utf-8", "\r\n", True), ("gb18030", "\r\n", False),
    ("latin-1", "\n", False),
])  # fmt: skip
def test_encodings_line_endings_and_quoted_newlines(tmp_path: Path, encoding: str, newline: str,
                                                    bom: bool) -> None:  # fmt: skip
    narrative = "有人冒充警察,\n让我转账"
    if encoding == "latin-1":
        narrative = "Me llamó un señor,\nun «policía»"
    text = REPORTS.replace("\n", newline) + newline.join([
        "R1,2016-07-08T10:00:00+08:00,13800000010,010-6611-0110,62220001,50000.00,CNY,zh,"
        f'"{narrative}"',
        "R2,2016-07-09T10:00:00+08:00,13800000020,,,0,CNY,zh,短",
    ]) + newline  # fmt: skip
    if encoding == "latin-1":
        text = text.replace("短", "corto")
    data = ("\ufeff" if bom else "").encode("utf-8") + text.encode(encoding)
    source = tmp_path / "reports.csv"
    source.write_bytes(data)
    batches = list(READER.read(source, ReadContext("CN", str(source))))
    rows = [r for b in batches for r in b.data.to_pylist()]
    assert [r["report_id"] for r in rows] == ["R1", "R2"]
    assert rows[0]["narrative"] == narrative
    assert rows[0]["victim_phone"] == "+8613800000010"
    assert rows[0]["reported_numbers"] == "+861066110110"
    assert str(rows[0]["amount_lost"]) == "50000.00"
    assert not [r for b in batches for r in b.rejected]


def test_text_not_utf8_after_a_utf8_start_is_set_aside_by_line_and_field(tmp_path: Path) -> None:
    """A file read as UTF-8 (its start is) with a Latin-1 value further on: that row is set
    aside with its line and field, and every other row, before and after it, is kept."""
    rows = [f"T{i},2016-07-01T10:00:00Z,a{i},b{i},{i}.50,CNY,网银" for i in range(1, 60001)]
    bad = 41_234
    data = (TRANSFERS + "\n".join(rows) + "\n").encode("utf-8")
    at = data.index(f"\nT{bad},".encode()) + 1
    line_end = data.index(b"\n", at)
    data = data[:at] + data[at:line_end].replace("网银".encode(), "caf\xe9".encode("latin-1")) \
        + data[line_end:]  # fmt: skip
    source = tmp_path / "transfers.csv"
    source.write_bytes(data)
    batches = list(READER.read(source, ReadContext("CN", str(source))))
    kept = [r["tx_id"] for b in batches for r in b.data.select(["tx_id"]).to_pylist()]
    assert len(kept) == 59_999 and f"T{bad}" not in kept and kept[-1] == "T60000"
    (rejected,) = [r for b in batches for r in b.rejected]
    assert (rejected.line, rejected.field) == (bad + 1, "channel")  # the header is line 1
    assert rejected.value == "caf\ufffd" and "UTF-8" in rejected.reason


def test_truncated_gzip_keeps_rows_and_reports_the_break(tmp_path: Path) -> None:
    body = TRANSFERS + "".join(f"t{i},2016-07-01T10:00:{i % 60:02d}Z,a,b,{i}.50,CNY,online\n"
                               for i in range(1, 20001))  # fmt: skip
    whole = gzip.compress(body.encode())
    source = tmp_path / "transfers.csv.gz"
    source.write_bytes(whole[: len(whole) * 2 // 3])
    case = tmp_path / "case"
    result = ingest([str(source)], case, holder_country="CN")
    kept = len(_rows(case / "transfers.parquet"))
    assert 0 < kept < 20000
    (reason,) = result.sources[0].rejected
    assert "truncated" in reason


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    result = ingest([str(original / "transfers.csv")], case, holder_country="CN", dry_run=True)
    assert result.rows > 0 and not case.exists()


def test_stdin_and_errors_exit_codes(tmp_path: Path) -> None:
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    run = subprocess.run([sys.executable, "-m", "scamtrace.cli", "ingest", "-", "--into",
                          str(case), "--holder-country", "CN", "--table", "transfers"],
                         input=(original / "transfers.csv").read_bytes(),
                         capture_output=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = (original / "transfers.csv").read_text().splitlines()
    assert len(_rows(case / "transfers.parquet")) == len(lines) - 1
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a format anyone knows")
    bad = subprocess.run([sys.executable, "-m", "scamtrace.cli", "ingest", str(junk), "--into",
                          str(case)], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 1 and "not recognised" in bad.stdout


# A bare carriage return ends a record in CSV (it is a line break), so cells never hold one.
_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cell, min_size=5, max_size=9), min_size=1, max_size=15))
def test_malformed_rows_are_rows_or_rejected(tmp_path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(TRANSFERS.strip().split(","))
    w.writerows(rows)
    source = tmp_path / "transfers.csv"
    source.write_text(buffer.getvalue(), encoding="utf-8")
    batches = list(READER.read(source, ReadContext("CN", "x")))
    kept = sum(b.data.num_rows for b in batches)
    rejected = [r.line for b in batches for r in b.rejected]
    # every record is a row or set aside, with its line; none vanishes
    assert kept + len(rejected) == len(rows), (kept, rejected, rows)
    physical = buffer.getvalue().count("\n")
    assert all(2 <= line <= physical for line in rejected), (rejected, physical)


def test_infinite_times_are_rejected(tmp_path: Path) -> None:
    # DuckDB casts 'infinity' to a time; a transfer never happened then
    source = tmp_path / "transfers.csv"
    source.write_text(TRANSFERS + "t1,infinity,a,b,1,CNY,online\n"
                      "t2,2016-07-01T10:00:00Z,a,b,1,CNY,online\n")  # fmt: skip
    batches = list(READER.read(source, ReadContext("CN", "x")))
    assert [r["tx_id"] for b in batches for r in b.data.to_pylist()] == ["t2"]
    assert [(r.line, r.field, r.reason) for b in batches for r in b.rejected] == \
        [(2, "time", "not an ISO 8601 time")]  # fmt: skip


@pytest.mark.parametrize(("option", "message"), [
    (["--format", "no-such-format"], "unknown format 'no-such-format'"),
    (["--timezone", "Mars/Olympus_Mons"], "unknown time zone 'Mars/Olympus_Mons'"),
    (["--encoding", "latin-9000"], "unknown encoding 'latin-9000'"),
    (["--table", "payments"], "--table payments: not a contract table"),
])  # fmt: skip
def test_bad_options_are_errors_even_when_every_source_was_ingested(
    tmp_path: Path, option: list[str], message: str
) -> None:
    """Before: a source already ingested is skipped before its reader is picked, so a bad
    --format or --timezone passed unseen (exit 0, "already ingested")."""
    source = tmp_path / "transfers.csv"
    source.write_text(TRANSFERS + "t1,2016-07-01T10:00:00Z,a,b,1.00,CNY,online\n")
    case = tmp_path / "case"
    ingest([str(source)], case, holder_country="CN")
    before = _snapshot(case)
    with pytest.raises(IngestError, match=message.replace("(", r"\(")):
        ingest([str(source)], case, fmt=option[1] if option[0] == "--format" else None,
               options={} if option[0] == "--format" else {option[0][2:]: option[1]})
    # the command: main() prints the error as one line and exits 2
    result = CliRunner().invoke(app, ["ingest", str(source), "--into", str(case), *option])
    assert isinstance(result.exception, IngestError) and message in str(result.exception)
    assert _snapshot(case) == before


def test_holder_json_names_each_tables_country_and_the_old_case_keeps_its_own(
    tmp_path: Path,
) -> None:
    """A table ingested for another country is written into ``holder.json`` as that table's;
    the new file replaces the old one's name, never its content (the old case is a hard-linked
    copy); a ``holder.json`` that is no JSON stops the run, naming its file and line."""
    original = build(tmp_path / "original")
    case = tmp_path / "case"
    ingest([str(original / "transfers.csv")], case, holder_country="CN")
    assert json.loads((case / "holder.json").read_text()) == {"country": "CN", "tables": {}}
    linked = tmp_path / "linked-holder.json"
    linked.hardlink_to(case / "holder.json")
    ingest([str(original / "carrier_cdr.csv")], case, holder_country="ES")
    assert json.loads((case / "holder.json").read_text()) == \
        {"country": "CN", "tables": {"carrier_cdr": "ES"}}  # fmt: skip
    assert json.loads(linked.read_text()) == {"country": "CN", "tables": {}}
    (case / "holder.json").write_text('{"country": "CN",\n')
    with pytest.raises(ValueError, match=r"holder\.json: line 2: not valid JSON"):
        ingest([str(original / "accounts.csv")], case)
