"""FreeSWITCH mod_json_cdr: exact rows from hand-written documents (a pretty-printed a-leg with
URL-encoded variables, JSON lines with every fallback and hangup cause, a b-leg, malformed
documents), a folder of them, time zones, older and newer call flows, and malformed documents
thrown at the reader (each one a row or set aside, with its number)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamtrace.ingest import base
from scamtrace.ingest.base import ReadContext, Rejected
from scamtrace.ingest.freeswitch import READER, sip_status
from tests.ingest.conftest import case_from_batches

SAMPLES = Path(__file__).parent / "samples" / "freeswitch"
A_LEG = SAMPLES / "a_0b2ad6a4-3d1e-4f6b-9a59-2f0c3e1d7a10.cdr.json"
LINES = SAMPLES / "calls.jsonl"
TRUNCATED = SAMPLES / "truncated.cdr.json"

Row = tuple[object, ...]


def _read(path: Path, source: str = "x", **options: object) -> tuple[list[Row], list[Rejected]]:
    batches = list(READER.read(path, ReadContext("ES", source, options=options)))
    rows = sorted((tuple(r.values()) for b in batches for r in b.data.to_pylist()),
                  key=lambda r: str(r[0]))  # fmt: skip
    return rows, [r for b in batches for r in b.rejected]


def _t(hour: int, minute: int) -> datetime:
    return datetime(2016, 7, 1, hour, minute, tzinfo=UTC)


def _write(path: Path, documents: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def test_sniff() -> None:
    for path in (A_LEG, LINES, TRUNCATED):
        assert READER.sniff(path, path.read_bytes()[:65536]), path
    assert READER.sniff(SAMPLES, b"")  # a folder of them
    master = Path(__file__).parent / "samples" / "asterisk" / "Master.csv"
    assert not READER.sniff(master, master.read_bytes()[:65536])
    assert not READER.sniff(Path("x.json"), b'{"call_uuid": "1", "other": {}}')
    assert not READER.sniff(Path("x.csv"), b"call_id,start_time,variables,uuid\n")


def test_pretty_printed_a_leg_with_url_encoded_variables() -> None:
    rows, rejected = _read(A_LEG)
    assert rows == [("0b2ad6a4-3d1e-4f6b-9a59-2f0c3e1d7a10", _t(10, 0), "alice", "198.51.100.20",
                     "Zoiper rv2.8.1", "+34912345678", "+8613800138000", 60, 200)]  # fmt: skip
    assert rejected == []


def test_json_lines_fallbacks_statuses_and_rejected_documents() -> None:
    rows, rejected = _read(LINES, "calls.jsonl", timezone="Europe/Madrid")
    assert rows == [
        # call_uuid; start_stamp in Madrid; user_name; sip_network_ip; caller_id_number
        ("1c9e0f2d-6a7b-4c8d-9e0f-1a2b3c4d5e01", _t(10, 5), "bob", "198.51.100.21",
         "Grandstream GXP1625 1.0.4.128", "+34913456789", "+8613912345678", 0, 486),
        # numbers from the call flow only
        ("2d0f1e3a-7b8c-4d9e-8f01-2b3c4d5e6f02", _t(10, 6), "carol", "203.0.113.9",
         "Linphone/3.6.1 (belle-sip/1.3.0)", "+34934567890", "+8613700137000", 0, 487),
        ("3e1a2f4b-8c9d-4e0f-9a12-3c4d5e6f7003", _t(10, 7), "dave", "198.51.100.22", "",
         "+34915550000", "+8613800138001", 0, 480),
        ("4f2b3a5c-9d0e-4f1a-8b23-4d5e6f708104", _t(10, 8), "alice", "198.51.100.20", "",
         "+34912345678", "+8613800138009", 0, 404),
        ("5a3c4b6d-0e1f-4a2b-9c34-5e6f70819205", _t(10, 9), "alice", "198.51.100.20", "",
         "+34912345678", "+8613800138010", 0, 603),
        ("6b4d5c7e-1f2a-4b3c-8d45-6f708192a306", _t(10, 10), "erin", "2001:db8::20", "",
         "+34912345679", "+8613800138011", 0, 500),
        ("7c5e6d8f-2a3b-4c4d-9e56-708192a3b407", _t(10, 11), "erin", "2001:db8::20", "",
         "+34912345679", "+8613800138012", 42, 200),
    ]  # fmt: skip
    assert [(r.source, r.line, r.field) for r in rejected] == \
        [("calls.jsonl", 2, ""), ("calls.jsonl", 5, "")]  # fmt: skip
    assert rejected[0].reason.startswith("not valid JSON: ")
    assert rejected[0].value.startswith('{"variables": {"uuid": "8d6f7e9a')
    assert rejected[1].reason.startswith("b-leg of a bridged call")
    assert rejected[1].value == "7d3f1b2a-5c6e-4d8f-a1b2-c3d4e5f60718"
    # without a time zone a local start_stamp is UTC; start_epoch never depends on it
    utc, _ = _read(LINES)
    assert [r[1] for r in utc][:3] == [_t(12, 5), _t(10, 6), _t(10, 7)]


def test_a_malformed_document_alone() -> None:
    rows, rejected = _read(TRUNCATED, "t.json")
    assert rows == []
    assert [(r.line, r.field) for r in rejected] == [(1, "")]
    assert rejected[0].reason.startswith("not valid JSON: ")


def test_a_folder_of_documents() -> None:
    rows, rejected = _read(SAMPLES, "cdr")
    assert len(rows) == 8
    assert sorted((r.source, r.line) for r in rejected) == [
        ("cdr/calls.jsonl", 2), ("cdr/calls.jsonl", 5), ("cdr/truncated.cdr.json", 1)]


def test_pretty_printed_documents_one_after_another_and_arrays(tmp_path: Path) -> None:
    doc = json.loads(A_LEG.read_text())
    other = json.loads(json.dumps(doc).replace("0b2ad6a4", "1b2ad6a4"))
    text = (json.dumps(doc, indent="\t") + "\n" + '{\n\t"variables": {\n\t\t"uuid": "x",\n'
            + json.dumps(other, indent="\t") + "\n")  # fmt: skip
    (tmp_path / "several.json").write_text(text)
    rows, rejected = _read(tmp_path / "several.json")
    assert [r[0] for r in rows] == ["0b2ad6a4-3d1e-4f6b-9a59-2f0c3e1d7a10",
                                    "1b2ad6a4-3d1e-4f6b-9a59-2f0c3e1d7a10"]  # fmt: skip
    assert [(r.line, r.reason[:15]) for r in rejected] == [(2, "not valid JSON:")]
    (tmp_path / "array.json").write_text(json.dumps([doc, 42, other]))
    rows, rejected = _read(tmp_path / "array.json")
    assert len(rows) == 2
    assert [(r.line, r.reason) for r in rejected] == \
        [(2, "not a FreeSWITCH CDR: a JSON int, not an object")]  # fmt: skip


def test_older_call_flow_an_object_with_repeated_keys(tmp_path: Path) -> None:
    # Older versions repeat "callflow" once per caller profile, newest first; a JSON parser
    # keeps the last, the original profile (what was dialled before any transfer).
    text = ('{"variables": {"uuid": "u1", "sip_auth_username": "zoe", "start_epoch": '
            '"1467367200"}, "callflow": {"caller_profile": {"caller_id_number": "915550009", '
            '"destination_number": "2000"}}, "callflow": {"caller_profile": {"caller_id_number":'
            ' "915550009", "destination_number": "008613800138020"}}}\n')  # fmt: skip
    (tmp_path / "old.json").write_text(text)
    rows, rejected = _read(tmp_path / "old.json")
    assert rejected == []
    assert rows[0][5:7] == ("+34915550009", "+8613800138020")


@pytest.mark.parametrize(("term", "cause", "billsec", "answer", "status"), [
    ("486", "NORMAL_CLEARING", "10", "", "486"),
    ("", "NORMAL_CLEARING", "10", "", "200"),
    ("", "NORMAL_CLEARING", "0", "1467367205", "200"),
    ("", "NORMAL_CLEARING", "0", "0", "500"),
    ("", "user_busy", "", "", "486"),
    ("", "NO_ANSWER", "", "", "480"),
    ("", "NO_USER_RESPONSE", "", "", "480"),
    ("", "ORIGINATOR_CANCEL", "", "", "487"),
    ("", "CALL_REJECTED", "", "", "603"),
    ("", "UNALLOCATED_NUMBER", "", "", "404"),
    ("", "RECOVERY_ON_TIMER_EXPIRE", "", "", "500"),
    ("", "", "", "", ""),
])  # fmt: skip
def test_sip_status(term: str, cause: str, billsec: str, answer: str, status: str) -> None:
    assert sip_status(term, cause, billsec, answer) == status


def test_batches_make_a_case_folder_that_open_case_loads(tmp_path: Path) -> None:
    batches = list(READER.read(SAMPLES, ReadContext("ES", "cdr", batch_rows=3)))
    assert len(batches) > 1
    opened = case_from_batches(batches, tmp_path / "case", "ES")
    assert opened.present == ["voip_cdr"]
    assert opened.rows_read["voip_cdr"] == 8 and opened.rows_set_aside["voip_cdr"] == 0
    assert opened.count("SELECT count(*) FROM voip_cdr WHERE user_agent <> ''") == 3


# --- malformed documents ---------------------------------------------------------------------

_value = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["%2B34912345678", "0086138001380%", "%E4%BD%A0", "1467367200", "NORMAL_CLEARING", "  "])
_keys = st.sampled_from(["uuid", "call_uuid", "start_epoch", "start_stamp", "sip_auth_username",
                         "user_name", "sip_from_user", "sip_received_ip", "sip_network_ip",
                         "sip_user_agent", "effective_caller_id_number", "caller_id_number",
                         "sip_to_user", "destination_number", "billsec", "sip_term_status",
                         "hangup_cause", "answer_epoch"])  # fmt: skip
_json = st.recursive(st.none() | st.booleans() | st.integers() | _value,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_value, inner, max_size=3), max_leaves=6)  # fmt: skip


@st.composite
def _document(draw: st.DrawFn) -> tuple[str, bool]:
    """A JSON line, and whether it is malformed."""
    doc: dict[str, Any] = {"variables": draw(st.dictionaries(_keys, _value | _json, max_size=10))}
    if draw(st.booleans()):
        doc["callflow"] = draw(st.sampled_from([[], {}, [{}], "x"]) | st.builds(
            lambda cp: [{"caller_profile": cp}],
            st.dictionaries(st.sampled_from(["caller_id_number", "destination_number",
                                             "originator"]), _json, max_size=3)))  # fmt: skip
    if draw(st.booleans()):
        doc[draw(_value)] = draw(_json)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    kind = draw(st.sampled_from(["whole", "cut", "junk"]))
    if kind == "cut":
        return text[: draw(st.integers(1, len(text) - 1))], True
    if kind == "junk":
        junk = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
                            max_size=30))  # fmt: skip
        return "{" + junk, False  # usually malformed, sometimes ("{}") not
    return text, False


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(documents=st.lists(_document(), min_size=1, max_size=20))
def test_malformed_documents_are_rows_or_rejected(tmp_path: Path,
                                                  documents: list[tuple[str, bool]]) -> None:
    path = tmp_path / "cdr.jsonl"
    path.write_text("".join(text + "\n" for text, _ in documents), encoding="utf-8")
    batches = list(READER.read(path, ReadContext("ES", "x", batch_rows=4)))
    kept = sum(b.data.num_rows for b in batches)
    rejected = [r for b in batches for r in b.rejected]
    lines = [r.line for r in rejected]
    # every document is a row or set aside, once, by its number (here its line)
    assert kept + len(rejected) == len(documents)
    assert len(set(lines)) == len(lines) and all(1 <= n <= len(documents) for n in lines)
    for number, (_text, malformed) in enumerate(documents, start=1):
        if malformed:
            assert any(r.line == number and r.reason.startswith("not valid JSON") for r in
                       rejected)  # fmt: skip


def _cdr(uuid: str, **variables: str) -> dict[str, Any]:
    return {"variables": {"uuid": uuid, "start_epoch": "1467367200", "billsec": "60",
                          "sip_to_user": "8613800138000", **variables}}


def test_json_nested_too_deep_is_set_aside_and_the_rest_read(tmp_path: Path) -> None:
    """Before: a RecursionError traceback ended the ingest."""
    deep = "[" * 100_000 + "]" * 100_000
    deep_object = '{"variables": ' + '{"a": ' * 150 + "1" + "}" * 150 + "}"
    path = tmp_path / "calls.jsonl"
    pretty_deep = '{"a":\n' + "[" * 50_000 + "]" * 50_000 + "\n}\n"
    path.write_text(json.dumps(_cdr("u1")) + "\n" + deep + "\n" + deep_object + "\n"
                    + json.dumps(_cdr("u4")) + "\n" + pretty_deep
                    + json.dumps(_cdr("u6")) + "\n")  # fmt: skip
    rows, rejected = _read(path)
    assert [r[0] for r in rows] == ["u1", "u4", "u6"]
    assert [(r.line, r.reason) for r in rejected] == [
        (2, "JSON nested more than 100 deep"), (3, "JSON nested more than 100 deep"),
        (5, "JSON nested more than 100 deep")]  # fmt: skip


def test_bytes_that_are_not_utf8_set_their_document_aside(tmp_path: Path) -> None:
    """Before: read with U+FFFD in their place (``Pe\\ufffda``), 0 rejections."""
    latin = json.dumps(_cdr("u2", caller_id_name="Peña"), ensure_ascii=False).encode("latin-1")
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_cdr("u1")).encode() + b"\n" + latin + b"\n"
                     + json.dumps(_cdr("u3", caller_id_name="Peña"), ensure_ascii=False)
                     .encode() + b"\n")  # fmt: skip
    rows, rejected = _read(path)
    assert [r[0] for r in rows] == ["u1", "u3"]
    assert [(r.line, r.reason) for r in rejected] == [(2, "not UTF-8 text")]
    assert "\ufffd" in rejected[0].value or rejected[0].value.startswith('{"variables"')


def test_a_document_over_the_limit_is_set_aside_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "MAX_RECORD_BYTES", 1 << 16)
    pretty = json.dumps(_cdr("u3", sip_user_agent="x" * 100_000), indent=2)
    path = tmp_path / "calls.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write((json.dumps(_cdr("u1")) + "\n").encode())
        fh.write((json.dumps(_cdr("u2", sip_user_agent="y" * (8 << 20))) + "\n").encode())
        fh.write((pretty + "\n").encode())
        fh.write((json.dumps(_cdr("u4")) + "\n").encode())
    tracemalloc.start()
    try:
        rows, rejected = _read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r[0] for r in rows] == ["u1", "u4"]
    assert [(r.line, r.reason) for r in rejected] == [(2, "document longer than 65536 bytes"),
                                                      (3, "document longer than 65536 bytes")]
    assert peak < 4 << 20, peak  # the long line is 8 MB


def test_documents_set_aside_go_out_batch_by_batch(tmp_path: Path) -> None:
    """Before: a batch went out only when it held ``batch_rows`` rows; documents set aside
    were all held until the end of the file."""
    path = tmp_path / "calls.jsonl"
    path.write_text("[1]\n" * 10 + json.dumps(_cdr("u1")) + "\n" + "[2]\n" * 10)
    batches = list(READER.read(path, ReadContext("ES", "x", batch_rows=4)))
    counts = [len(b.rejected) for b in batches]
    assert sum(counts) == 20 and sum(b.data.num_rows for b in batches) == 1
    assert max(counts) <= 4, counts
