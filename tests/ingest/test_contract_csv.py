"""Contract CSV read to the end whatever its records (issue 21): a field over the record limit
is set aside by its line and the rows after it are read; a file cut inside quotes, blank
lines, a repeated header column, encodings that are not UTF-8 (never Latin-1 read as
GB18030), UTF-16; memory bounded by the limit however long a line (gzip too); rows set aside
go out batch by batch; and the record stream hands pyarrow exactly the records of the file."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scamtrace.ingest import base, contract_tables
from scamtrace.ingest.base import IngestError, ReadContext, Rejected, StoppedEarly
from scamtrace.ingest.contract_tables import READER, UTF8, Encoding
from scamtrace.ingest.pipeline import ingest

HEADER = "tx_id,time,payer_account,payee_account,amount,currency,channel\n"


def _row(i: int, payer: str = "a") -> str:
    return f"t{i},2016-07-01T10:00:00Z,{payer},b,1.00,CNY,online\n"


def _read(path: Path, **options: object) -> tuple[list[dict[str, object]], list[Rejected]]:
    batches = list(READER.read(path, ReadContext("CN", path.name, options=options)))
    rows = [r for b in batches for r in b.data.to_pylist()]
    return rows, [r for b in batches for r in b.rejected]


def _small_limit(monkeypatch: pytest.MonkeyPatch, limit: int = 4096) -> None:
    monkeypatch.setattr(base, "MAX_RECORD_BYTES", limit)


# ------------------------------------------------------------------- records past the limit

def test_a_field_over_16_mb_is_set_aside_and_the_rows_after_it_are_read(tmp_path: Path) -> None:
    """Before: pyarrow stopped at the field ("straddling object"), one rejection, every row
    after it dropped, and the file recorded as ingested."""
    longest = "x" * (2 * base.MAX_RECORD_BYTES + 1)  # past two of pyarrow's blocks
    long = "x" * (base.MAX_RECORD_BYTES + 1)
    path = tmp_path / "transfers.csv"
    path.write_text(HEADER + _row(1) + _row(2, f'"{longest}"') + _row(3) + _row(4, long)
                    + _row(5))  # fmt: skip
    rows, rejected = _read(path)
    assert [r["tx_id"] for r in rows] == ["t1", "t3", "t5"]
    assert [(r.line, r.field, r.value[:3]) for r in rejected] == \
        [(3, "payer_account", "xxx"), (5, "payer_account", "xxx")]  # fmt: skip
    assert all("longer than 16777216 bytes" in r.reason for r in rejected)


@pytest.mark.parametrize("gz", [False, True])
def test_records_over_the_limit_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         gz: bool) -> None:  # fmt: skip
    _small_limit(monkeypatch)
    multi_line = '"' + "line\n" * 2000 + '"'  # quoted newlines: one record, 10 kB
    text = (HEADER + _row(1) + _row(2, multi_line) + _row(3) + "\n" + _row(4, "y" * 9000)
            + _row(5) + _row(6, "z" * 5000).rstrip("\n"))  # the last without a line end
    path = tmp_path / ("transfers.csv.gz" if gz else "transfers.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    rows, rejected = _read(path)
    assert [r["tx_id"] for r in rows] == ["t1", "t3", "t5"]
    # the blank line is line 5 and counts; the multi-line record is one record
    assert [(r.line, r.field) for r in rejected] == \
        [(3, "payer_account"), (6, "payer_account"), (8, "payer_account")]  # fmt: skip


def test_a_long_line_in_gzip_is_read_in_bounded_memory(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A small .gz holding one huge line: the reader holds at most the limit of it (before,
    all of it, through a buffer grown by concatenation: quadratic time), sets it aside by its
    line and goes on."""
    _small_limit(monkeypatch, 1 << 20)
    path = tmp_path / "transfers.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write((HEADER + _row(1)).encode() + b"t2,2016-07-01T10:00:00Z,")
        block = b"x" * (1 << 20)
        for _ in range(48):
            fh.write(block)
        fh.write(b",b,1.00,CNY,online\n" + _row(3).encode())
    tracemalloc.start()
    try:
        rows, rejected = _read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["tx_id"] for r in rows] == ["t1", "t3"]
    assert [(r.line, r.field) for r in rejected] == [(3, "payer_account")]
    # the line is 48 MB; pyarrow asks for blocks of 16 MB
    assert peak < 24 << 20, peak


def test_rows_set_aside_go_out_batch_by_batch(tmp_path: Path) -> None:
    path = tmp_path / "transfers.csv"
    path.write_text(HEADER + ",,,,,,\n" * 250_000 + "a,b\n" * 250_000 + _row(1))
    batches = READER.read(path, ReadContext("CN", "x"))
    counts = [len(b.rejected) for b in batches]
    assert sum(counts) == 500_000
    # never the whole file's at once: a part's, and those of the 1 MB block pyarrow parses
    assert max(counts) <= base.TYPING_ROWS and len(counts) >= 5, counts


# ----------------------------------------------------------------- cut, blank, repeated

def test_a_file_cut_inside_a_quoted_field_sets_its_last_record_aside(tmp_path: Path) -> None:
    path = tmp_path / "transfers.csv"
    path.write_text(HEADER + _row(1) + 't2,2016-07-01T10:00:00Z,a,b,1.00,CNY,"onl')
    rows, rejected = _read(path)
    assert [r["tx_id"] for r in rows] == ["t1"]
    assert [(r.line, r.field, r.value, r.reason) for r in rejected] == \
        [(3, "channel", "onl", "file ends inside a quoted field: the last record is cut short")]


def test_blank_lines_count_as_lines_and_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "transfers.csv"
    path.write_bytes((HEADER + _row(1) + "\n\r\n" + _row(2).replace("\n", "\r\n") + "\r\n"
                      + "t3,2016-07-01T10:00:00Z,a,b,-1,CNY,online\n\n").encode())
    rows, rejected = _read(path)
    assert [r["tx_id"] for r in rows] == ["t1", "t2"]
    assert [(r.line, r.field) for r in rejected] == [(7, "amount")]  # lines 3, 4, 6 are blank


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    """Before: the second ``amount`` silently won."""
    path = tmp_path / "transfers.csv"
    path.write_text(HEADER.rstrip("\n") + ",amount\n" + _row(1).rstrip("\n") + ",999.00\n")
    with pytest.raises(IngestError, match=r"transfers.csv: the header names column 'amount' twice"):
        _read(path)
    table = pa.Table.from_arrays([pa.array(["t1"]), pa.array(["1"]), pa.array(["2"])],
                                 names=["tx_id", "amount", "amount"])  # fmt: skip
    pq.write_table(table, tmp_path / "transfers.parquet")
    with pytest.raises(IngestError, match="'amount' twice"):
        _read(tmp_path / "transfers.parquet")


# ------------------------------------------------------------------------------ encodings

def test_latin1_is_never_read_as_gb18030(tmp_path: Path) -> None:
    """Before: ``Peña`` in Latin-1 decoded as GB18030 (``Pe馻``), with no rejection."""
    path = tmp_path / "transfers.csv"
    path.write_bytes((HEADER + _row(1, "Peña")).encode("latin-1"))
    rows, rejected = _read(path)
    assert [r["payer_account"] for r in rows] == ["Peña"] and not rejected
    # ñ next to a letter that GB18030 would take as its second byte, and nothing else: the
    # guess is not certain either way, and is refused with the way out
    path.write_bytes((HEADER + _row(1, "PEÑA ÇÃO ÀÉÎÕÜ")).encode("latin-1"))
    with pytest.raises(IngestError, match="--encoding"):
        _read(path)
    rows, _ = _read(path, encoding="latin-1")
    assert [r["payer_account"] for r in rows] == ["PEÑA ÇÃO ÀÉÎÕÜ"]


def test_chinese_gb18030_is_still_read_and_doubtful_rows_are_set_aside(tmp_path: Path) -> None:
    """The guess is made on the first MB; past it, a value that is likelier the other
    encoding is set aside, not read in the guessed one."""
    n = 30_000  # rows enough to fill the first MB
    chinese = "".join(_row(i, "张伟的银行账户") for i in range(1, n + 1))
    path = tmp_path / "transfers.csv"
    path.write_bytes((HEADER + chinese).encode("gb18030") + _row(0, "Peña").encode("latin-1"))
    rows, rejected = _read(path)
    assert {r["payer_account"] for r in rows} == {"张伟的银行账户"} and len(rows) == n
    assert [(r.line, r.field) for r in rejected] == [(n + 2, "payer_account")]
    assert "not GB18030 text" in rejected[0].reason and "--encoding" in rejected[0].reason
    # and the other way: a Latin-1 start, then Chinese further on
    western = "".join(_row(i, "Peña") for i in range(1, n + 1))
    path.write_bytes((HEADER + western).encode("latin-1")
                     + _row(0, "张伟的银行账户").encode("gb18030"))  # fmt: skip
    rows, rejected = _read(path)
    assert {r["payer_account"] for r in rows} == {"Peña"} and len(rows) == n
    assert [(r.line, r.field) for r in rejected] == [(n + 2, "payer_account")]


def test_utf16_is_read_and_without_a_bom_refused_plainly(tmp_path: Path) -> None:
    """Before: a UTF-16 file was "not a contract table by its name or header"."""
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + _row(1, "Peña")).encode("utf-16"))
    assert READER.sniff(path, path.read_bytes()[:65536])
    rows, rejected = _read(path)
    assert [r["payer_account"] for r in rows] == ["Peña"] and not rejected
    path.write_bytes((HEADER + _row(1, "Peña")).encode("utf-16-le"))
    with pytest.raises(IngestError, match="UTF-16 without a byte-order mark"):
        _read(path, table="transfers")


def test_an_unknown_encoding_option_is_refused() -> None:
    with pytest.raises(IngestError, match="unknown encoding 'latin-9000'"):
        contract_tables.encoding_option("latin-9000")
    assert contract_tables.encoding_option("UTF8") == UTF8
    assert contract_tables.encoding_option("latin_1") == Encoding("iso8859-1", "iso8859-1")


# ------------------------------------------------------------- the record stream, exactly

def _parsed(data: bytes, fields: int) -> list[tuple[object, ...]]:
    """pyarrow's serial reading of ``data``: each row's values, each invalid row's number."""
    got: list[tuple[object, ...]] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        got.append(("invalid", row.number, row.text))
        return "skip"

    names = [f"c{i}" for i in range(fields)]
    reader = pacsv.open_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(
        use_threads=False, block_size=1 << 16), parse_options=pacsv.ParseOptions(
        newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))  # fmt: skip
    for batch in reader:
        got += [tuple(r.values()) for r in batch.to_pylist()]
    return got


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet='ab,"\r\n', max_size=80), st.integers(1, 9))
@example('a,"b""\n"c,d\n', 3)
@example('x"y,\n"a\n\nb",c\r\n\r\n', 2)
@example('"a"b"c\n,\n', 1)
@example('a"","\r\r', 1)  # a literal quote, then one right after it: still literal
def test_records_reach_pyarrow_exactly_as_in_the_file(body: str, step: int) -> None:
    """Property: whatever the bytes (stray quotes, quotes after a closing one, CR, LF, CRLF,
    blank lines), read through :class:`_Records` in pieces of any size, pyarrow sees the same
    records as in the file itself (a blank line is a marker, read here as an empty row), and
    numbers the ones it sets aside the same."""
    data = b"h1,h2,h3\n" + body.encode()
    records = contract_tables._Records(io.BytesIO(data), UTF8, 1 << 20)
    records.step = step
    streamed = records.read()
    cut = records.marks and any(m.reason == contract_tables.CUT for m in records.marks.values())
    if cut:  # the file ends inside quotes: its last record is a marker
        return
    try:
        expected = _parsed(data, 3)
    except pa.ArrowInvalid:
        return
    got = _parsed(streamed.replace(f"{records.token}b".encode(), b""), 3)
    assert _empty_as_none(got) == _empty_as_none(expected), (data, streamed)


def _empty_as_none(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    # pyarrow reads a blank line as a row of nulls, the marker as a row of empty texts
    return [tuple(None if v == "" else v for v in row) for row in rows]


def test_toggles_follow_pyarrow_one_by_one_on_many_stray_quotes() -> None:
    data = ('a,b"c' * 200 + ',"d""e"\n').encode()
    octets = np.frombuffer(data, np.uint8)
    fast = contract_tables.toggles(octets)
    assert fast.tolist() == [len(data) - 7, len(data) - 5, len(data) - 4, len(data) - 2]


def test_a_reader_that_cannot_go_on_raises_after_the_rows_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should pyarrow still stop inside a file (here: blocks made too small for a record),
    the rows before are yielded and then :class:`StoppedEarly` says the source was not read
    to its end; the ingest keeps those rows but never records the source as ingested
    (before: one rejection, exit 0, and the hash recorded, so a second run said "already
    ingested")."""
    monkeypatch.setattr(contract_tables, "BLOCK_BYTES", 1024)
    path = tmp_path / "transfers.csv"
    path.write_text(HEADER + _row(1) + _row(2, "x" * 5000) + _row(3))
    got = []
    with pytest.raises(StoppedEarly, match=r"transfers\.csv: unreadable CSV at or after line"):
        got.extend(READER.read(path, ReadContext("CN", path.name)))
    assert [r["tx_id"] for b in got for r in b.data.to_pylist()] == ["t1"]
    case = tmp_path / "case"
    result = ingest([str(path)], case, holder_country="CN")
    assert "unreadable CSV" in result.sources[0].stopped
    manifest = json.loads((case / "ingest.json").read_text())
    assert manifest["sources"] == []
    assert [s["sha256"] for s in manifest["incomplete"]] == [result.sources[0].sha256]
    again = ingest([str(path)], case)
    assert not again.sources[0].skipped  # read again, never taken as done
