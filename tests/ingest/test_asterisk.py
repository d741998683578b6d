"""Asterisk Master.csv: exact rows from a hand-written sample (CRLF, byte-order mark, quoted
commas, SIP/PJSIP/IAX2/Local channels, a caller known only by its caller ID, a line cut short,
an unknown disposition), time zones, hashed call ids, gzip, line numbers across pieces, and
malformed lines thrown at the reader (each one a row or set aside, with its line)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scamtrace.ingest import asterisk, base
from scamtrace.ingest.asterisk import READER, layout
from scamtrace.ingest.base import IngestError, ReadContext, Rejected
from tests.ingest.conftest import case_from_batches

SAMPLES = Path(__file__).parent / "samples" / "asterisk"
MASTER = SAMPLES / "Master.csv"
MASTER_16 = SAMPLES / "Master-16.csv"


def _read(path: Path, **options: object) -> tuple[list[dict[str, object]], list[Rejected]]:
    batches = list(READER.read(path, ReadContext("ES", path.name, options=options)))
    rows = [r for b in batches for r in b.data.to_pylist()]
    return sorted(rows, key=lambda r: str(r["call_id"])), [r for b in batches for r in b.rejected]


def _t(hour: int, minute: int) -> datetime:
    return datetime(2016, 7, 1, hour, minute, tzinfo=UTC)


def test_sniff() -> None:
    assert READER.sniff(MASTER, MASTER.read_bytes()[:65536])
    assert READER.sniff(MASTER_16, MASTER_16.read_bytes()[:65536])
    header = b"call_id,start_time,sip_account,source_ip,user_agent,from_number,to_number\n"
    assert not READER.sniff(Path("voip_cdr.csv"), header)
    assert not READER.sniff(Path("x.json"), b'{"variables": {"uuid": "x"}}')
    assert not READER.sniff(Path("x.csv"), b"")
    # 16 fields, but no channel where the channel is
    assert not READER.sniff(Path("x.csv"), b",".join([b'"a"'] * 16) + b"\n")


def test_master_csv_rows_statuses_and_rejected_lines() -> None:
    rows, rejected = _read(MASTER)
    got = [(r["call_id"], r["start_time"], r["sip_account"], r["source_ip"], r["user_agent"],
            r["from_number"], r["to_number"], r["duration_s"], r["sip_status"]) for r in rows]
    assert got == [
        ("1467367200.1", _t(10, 0), "alice", "", "", "+34912345678", "+8613800138000", 60, 200),
        ("1467367320.3", _t(10, 2), "bob", "", "", "+34913456789", "+8613912345678", 0, 480),
        ("1467367380.5", _t(10, 3), "carol", "", "", "+34934567890", "+8613700137000", 0, 486),
        ("1467367500.10", _t(10, 5), "call-center-7", "203.0.113.7", "", "+34915550001",
         "+8613800138002", 0, 487),
        ("1467367560.12", _t(10, 6), "alice", "", "", "+34915550002", "+8613800138003", 0, 503),
        ("1467367620.13", _t(10, 7), "frank", "2001:db8::7", "", "+34915550003",
         "+8613800138004", 0, 503),
        ("1467367740.17", _t(10, 9), "", "", "", "+34912223344", "+8613800138006", 60, 200),
    ]  # fmt: skip
    assert [(r.source, r.line, r.table, r.field, r.reason) for r in rejected] == [
        ("Master.csv", 4, "voip_cdr", "", "expected 18 fields, got 7"),
        ("Master.csv", 8, "voip_cdr", "sip_status",
         "unknown disposition (expected ANSWERED, BUSY, NO ANSWER, CANCEL, FAILED or CONGESTION)"),
        ("Master.csv", 10, "voip_cdr", "to_number", "not a phone number"),
    ]  # fmt: skip
    assert rejected[1].value == "UNKNOWN" and rejected[2].value == "s"
    assert rejected[0].value.startswith('"","915550000","008613800138001"')


@pytest.mark.parametrize("zone", ["Europe/Madrid", "+02:00", "+0200"])
def test_local_times_in_the_time_zone_given(zone: str) -> None:
    rows, _ = _read(MASTER, timezone=zone)
    assert [r["start_time"] for r in rows][:3] == [_t(8, 0), _t(8, 2), _t(8, 3)]


def test_winter_time_and_unknown_zones(tmp_path: Path) -> None:
    text = MASTER.read_bytes().replace(b"2016-07-01 10:00:00", b"2016-01-15 10:00:00")
    rows = [r for b in READER.read(_write(tmp_path, text), ReadContext("ES", "x", options={
        "timezone": "Europe/Madrid"})) for r in b.data.to_pylist()]  # fmt: skip
    first = next(r for r in rows if r["call_id"] == "1467367200.1")
    assert first["start_time"] == datetime(2016, 1, 15, 9, 0, tzinfo=UTC)
    with pytest.raises(IngestError, match="unknown time zone"):
        list(READER.read(MASTER, ReadContext("ES", "x", options={"timezone": "Mars/Olympus"})))


def _write(folder: Path, data: bytes, name: str = "Master.csv") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_sixteen_columns_hash_the_line_latin1_and_options() -> None:
    assert layout(MASTER_16.read_bytes()) == asterisk.COLUMNS
    rows, rejected = _read(MASTER_16, source_ip="192.0.2.1")
    assert rejected == []
    # The hash is of the line's fields joined by U+001F, bytes that are not UTF-8 (the
    # Latin-1 name) replaced by U+FFFD first.
    with MASTER_16.open(encoding="utf-8", errors="replace", newline="") as fh:
        lines = list(csv.reader(fh))
    ids = {"md5-" + hashlib.md5("\x1f".join(line).encode("utf-8")).hexdigest()
           for line in lines}  # fmt: skip
    assert {r["call_id"] for r in rows} == ids
    again, _ = _read(MASTER_16)
    assert [r["call_id"] for r in again] == [r["call_id"] for r in rows]  # stable
    by_account = {r["sip_account"]: r for r in rows}
    # the caller ID of the Latin-1 line is read despite its name; a bare-number clid too
    assert by_account["ramon"]["from_number"] == "+34913456789"
    assert by_account["ramon"]["sip_status"] == 486
    assert by_account["carol"]["from_number"] == "+34934567890"
    assert {r["source_ip"] for r in rows} == {"192.0.2.1"}


def test_seventeen_columns_uniqueid_or_userfield(tmp_path: Path) -> None:
    line = MASTER.read_text(encoding="utf-8-sig").splitlines()[0]
    fields = next(csv.reader([line]))

    def joined(*rows: list[str]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode()

    with_id = joined(fields[:17], fields[:17])
    assert layout(with_id)[-1] == "uniqueid"
    with_user = joined([*fields[:16], "198.51.100.7"])
    assert layout(with_user)[-1] == "userfield"
    rows = [r for b in READER.read(_write(tmp_path, with_user), ReadContext("ES", "x"))
            for r in b.data.to_pylist()]  # fmt: skip
    assert rows[0]["source_ip"] == "198.51.100.7"
    assert str(rows[0]["call_id"]).startswith("md5-")


def test_small_pieces_and_batches_keep_line_numbers(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    whole, whole_rejected = _read(MASTER)
    text = MASTER.read_bytes()
    # blank lines and a lone CR line ending: skipped and counted
    text = text.replace(b"\r\n", b"\r\n\r\n", 1).replace(b'"BUSY","DOCUMENTATION",'
                                                         b'"1467367380.5",""\r\n',
                                                         b'"BUSY","DOCUMENTATION",'
                                                         b'"1467367380.5",""\r')  # fmt: skip
    monkeypatch.setattr(asterisk, "CHUNK_BYTES", 97)
    path = _write(tmp_path, text)
    batches = list(READER.read(path, ReadContext("ES", "Master.csv", batch_rows=2)))
    assert len(batches) > 2
    rows = sorted((r for b in batches for r in b.data.to_pylist()), key=lambda r: r["call_id"])
    assert rows == whole
    assert [(r.line, r.field) for b in batches for r in b.rejected] == \
        [(r.line + 1, r.field) for r in whole_rejected]  # one blank line more above  # fmt: skip


@pytest.mark.parametrize("marks", [1, 2, 3])
def test_leading_byte_order_marks_are_dropped_and_lines_keep_their_numbers(
    tmp_path: Path, marks: int,
) -> None:
    lines = MASTER.read_bytes().splitlines(keepends=True)
    bom = b"\xef\xbb\xbf"
    whole, whole_rejected = _read(MASTER)
    # marks before the first line: its row is read as it is
    rows, rejected = _read(_write(tmp_path, bom * marks + b"".join(lines)))
    assert (rows, rejected) == (whole, whole_rejected)
    # marks alone on the first line: a blank line, counted
    rows, rejected = _read(_write(tmp_path, bom * marks + b"\n" + b"".join(lines)))
    assert rows == whole
    assert [(r.line, r.field) for r in rejected] == \
        [(r.line + 1, r.field) for r in whole_rejected]  # fmt: skip


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    whole, _ = _read(MASTER)
    packed = gzip.compress(MASTER.read_bytes())
    (tmp_path / "Master.csv.gz").write_bytes(packed)
    rows, _ = _read(tmp_path / "Master.csv.gz")
    assert rows == whole
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) * 2 // 3])
    _rows, rejected = _read(tmp_path / "cut.csv.gz")
    assert any("truncated" in r.reason for r in rejected)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "Master.csv").write_bytes(b"")
    assert _read(tmp_path / "Master.csv") == ([], [])


def test_batches_make_a_case_folder_that_open_case_loads(tmp_path: Path) -> None:
    batches = READER.read(MASTER, ReadContext("ES", "Master.csv"))
    opened = case_from_batches(batches, tmp_path / "case", "ES")
    assert opened.present == ["voip_cdr"]
    assert opened.rows_read["voip_cdr"] == 7 and opened.rows_set_aside["voip_cdr"] == 0
    assert opened.count("SELECT count(DISTINCT sip_account) FROM voip_cdr "
                        "WHERE sip_account <> ''") == 5  # fmt: skip
    assert opened.count("SELECT count(*) FROM voip_cdr WHERE sip_status = 503") == 2


# --- malformed lines -------------------------------------------------------------------------

_GOOD = [next(csv.reader([line])) for line in MASTER.read_text(encoding="utf-8-sig").splitlines()
         if line.count('","') > 10][:3]  # fmt: skip
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["good", "field", "drop", "extra", "text", "bytes", "quote"]))
    fields = list(draw(st.sampled_from(_GOOD)))
    fields[16] = f"{draw(st.integers(1, 10**9))}.{draw(st.integers(0, 999))}"  # unique ids
    if kind == "field":
        fields[draw(st.integers(0, 17))] = draw(_text)
    elif kind == "drop":
        del fields[draw(st.integers(0, 17))]
    elif kind == "extra":
        fields.insert(draw(st.integers(0, 18)), draw(_text))
    if kind in ("good", "field", "drop", "extra"):
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="").writerow(fields)
        return buffer.getvalue().encode("utf-8")
    if kind == "text":
        return draw(_text).encode("utf-8")
    if kind == "quote":  # a quote left open, as a line cut short leaves it
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="").writerow(fields)
        return buffer.getvalue().encode("utf-8")[: draw(st.integers(1, 120))]
    return draw(st.binary(max_size=40)).replace(b"\r", b"").replace(b"\n", b"")


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(lines=st.lists(_line(), min_size=1, max_size=25),
       ending=st.sampled_from([b"\n", b"\r\n"]), bom=st.booleans(), last=st.booleans(),
       chunk=st.sampled_from([64, 1 << 22]))  # fmt: skip
def test_malformed_lines_are_rows_or_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: list[bytes], ending: bytes,
    bom: bool, last: bool, chunk: int,
) -> None:
    # Lines whose fields are all empty (or a bare pair of quotes cut short) are not data.
    lines = [line for line in lines if line.replace(b'"', b"").replace(b",", b"") != b""]
    # A file that starts with the bytes of a byte-order mark starts with one, whatever follows
    # (test_leading_byte_order_marks_are_dropped_and_lines_keep_their_numbers).
    assume(not lines or not lines[0].startswith(b"\xef\xbb\xbf"))
    data = (b"\xef\xbb\xbf" if bom else b"") + ending.join(lines) + (ending if last else b"")
    monkeypatch.setattr(asterisk, "CHUNK_BYTES", chunk)
    path = _write(tmp_path, data)
    ctx = ReadContext("ES", "x", batch_rows=7)
    numbers: list[int] = []
    set_aside: list[int] = []
    for raw, rejected in READER.read_text(path, ctx):
        numbers += raw.column("_line").to_pylist()
        set_aside += [r.line for r in rejected]
    # every line is a row or set aside, exactly once, with its own line number
    assert sorted(numbers + set_aside) == list(range(1, len(lines) + 1))
    typed = list(READER.read(path, ctx))
    kept = sum(b.data.num_rows for b in typed)
    refused = [r.line for b in typed for r in b.rejected]
    assert kept + len(refused) == len(lines)
    assert len(set(refused)) == len(refused)


def _peer(channel: str) -> str:
    """What the peer of a channel name is, written plainly."""
    if "/" not in channel or channel.lower().startswith("local/"):
        return ""
    return channel.split("/", 1)[1].rsplit("-", 1)[0]


_USUAL_CHANNEL = st.builds(
    lambda tech, name, number: f"{tech}/{name}-{number:08x}",
    st.sampled_from(["SIP", "PJSIP", "IAX2", "Local", "local"]),
    st.text(alphabet="abc-/ñ0", max_size=6), st.integers(0, 16**8 - 1),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.lists(_USUAL_CHANNEL, max_size=6),
                 st.lists(st.one_of(_USUAL_CHANNEL, st.text(alphabet="SIPLoca/-x1ñ", max_size=12)),
                          max_size=6)))  # fmt: skip
def test_peer_names_take_what_lies_between_technology_and_last_dash(channels: list[str]) -> None:
    found = asterisk.peer_names(pa.array(channels, pa.string())).to_pylist()
    assert found == [_peer(c) for c in channels]


@pytest.mark.parametrize("columns", [16, 18])
def test_small_pieces_read_the_same_rows_as_one_piece(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, columns: int
) -> None:
    # The reader parses each piece of the file from one buffer that it reuses: rows parsed
    # from earlier pieces must not change when later pieces are read over them.
    path = tmp_path / "Master.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for i in range(2_000):
            fields = ["", f"91{i:07d}", f"0086138{i:08d}", "from-customers",
                      f'"Caller {i}" <91{i:07d}>', f"SIP/cust{i % 37:04d}-{i:08x}",
                      f"SIP/trunk-{i:08x}", "Dial", f"SIP/trunk/0086138{i:08d},60",
                      f"2016-07-01 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}", "",
                      "2016-07-01 23:59:59", str(i % 97), str(i % 89),
                      ["ANSWERED", "BUSY", "NO ANSWER"][i % 3], "DOCUMENTATION",
                      f"1467331200.{i}", ""][:columns]  # fmt: skip
            writer.writerow(fields)
    whole, _ = _read(path)
    monkeypatch.setattr(asterisk, "CHUNK_BYTES", 1_000)  # about four lines a piece
    pieces, rejected = _read(path)
    assert not rejected and len(whole) == 2_000
    assert pieces == whole


_LINE = ('"","34912345678","8613800138000","from-internal","","SIP/alice-00000001",'
         '"SIP/trunk-00000002","Dial","SIP/trunk/8613800138000","2016-07-01 10:00:00",'
         '"2016-07-01 10:00:05","2016-07-01 10:01:05",65,60,"ANSWERED","DOCUMENTATION",'
         '"{uid}","{user}"')  # fmt: skip


@pytest.mark.parametrize("gz", [False, True])
def test_a_line_over_the_limit_is_set_aside_by_its_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    """Before: a line of any length was read whole into a buffer doubled to fit it."""
    monkeypatch.setattr(base, "MAX_RECORD_BYTES", 4096)
    monkeypatch.setattr(asterisk, "CHUNK_BYTES", 1024)
    lines = [_LINE.format(uid="1467367200.1", user=""),
             _LINE.format(uid="1467367200.2", user="x" * 20_000),
             _LINE.format(uid="1467367200.3", user=""), "",
             _LINE.format(uid="1467367200.4", user="y" * 9000),
             _LINE.format(uid="1467367200.5", user="")]  # fmt: skip
    data = "\r\n".join(lines).encode()
    path = tmp_path / ("Master.csv.gz" if gz else "Master.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    rows, rejected = _read(path)
    assert [r["call_id"] for r in rows] == ["1467367200.1", "1467367200.3", "1467367200.5"]
    assert [(r.line, r.reason) for r in rejected] == [(2, "line longer than 4096 bytes"),
                                                      (5, "line longer than 4096 bytes")]
    assert rejected[0].value.startswith('"","34912345678"')


def test_a_huge_line_in_gzip_is_read_past_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "MAX_RECORD_BYTES", 1 << 20)
    path = tmp_path / "Master.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write((_LINE.format(uid="1467367200.1", user="") + "\n").encode())
        fh.write(_LINE.format(uid="1467367200.2", user="").encode()[:-1])
        for _ in range(48):
            fh.write(b"x" * (1 << 20))
        fh.write(b'"\n' + (_LINE.format(uid="1467367200.3", user="") + "\n").encode())
    tracemalloc.start()
    try:
        rows, rejected = _read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["call_id"] for r in rows] == ["1467367200.1", "1467367200.3"]
    assert [r.line for r in rejected] == [2]
    assert peak < 16 << 20, peak  # the line is 48 MB


def test_lines_set_aside_go_out_batch_by_batch(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: lines set aside were held until ``batch_rows`` rows were kept, so a file of
    bad lines held every one of them to its end."""
    monkeypatch.setattr(asterisk, "CHUNK_BYTES", 1 << 18)
    path = tmp_path / "Master.csv"
    path.write_text("a,b\n" * 300_000 + _LINE.format(uid="1467367200.1", user="") + "\n")
    counts = [len(b.rejected) for b in READER.read(path, ReadContext("ES", "x"))]
    assert sum(counts) == 300_000
    assert len(counts) >= 3 and max(counts) < 200_000, counts
