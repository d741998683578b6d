"""Requests and answers in Parquet or Arrow IPC beside JSON: the same messages, read back by the
same commands, the merge giving the same case; a binary file that is not what it claims is a
one-line error naming it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scamtrace.share.exchange.answer import ANSWER_CALLS
from scamtrace.share.exchange.messages import (
    META_KEY,
    ExchangeError,
    columns_of,
    read_message,
    write_message,
)
from scamtrace.share.exchange.request import REQUEST_CALLS
from tests.share.conftest import Exchange, run_cli

#: Fields that differ between two runs of the same command.
WHEN = ("created_at",)


def _same(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in a.items() if k not in WHEN} == {
        k: v for k, v in b.items() if k not in WHEN}  # fmt: skip


def _calls(path: Path, what: str, schema: pa.Schema) -> tuple[dict[str, object], pa.Table]:
    raw = read_message(path, what)
    return {k: v for k, v in raw.items() if k != "calls"}, columns_of(raw, "calls", schema, path)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_binary_forms_carry_the_same_exchange(exchanges: dict[str, Exchange], tmp_path: Path,
                                              suffix: str) -> None:  # fmt: skip
    ex = exchanges["seed"]
    root = ex.request.parent
    request, answer = tmp_path / f"request{suffix}", tmp_path / f"answer{suffix}"
    run_cli("share", "request", str(root / "seed-findings-A"), str(ex.victims_half), "--key",
            str(ex.key), "--out", str(request))  # fmt: skip
    assert request.read_bytes()[:4] in (b"PAR1", b"ARRO")
    rest, calls = _calls(request, "request", REQUEST_CALLS)
    json_rest, json_calls = _calls(ex.request, "request", REQUEST_CALLS)
    assert calls.num_rows > 100 and calls.equals(json_calls)
    assert _same(rest, json_rest)
    run_cli("share", "answer", str(request), str(ex.centers_half), "--key", str(ex.key),
            "--out", str(answer), "--line-key", str(root / "line.key"))  # fmt: skip
    rest, calls = _calls(answer, "answer", ANSWER_CALLS)
    json_rest, json_calls = _calls(ex.answer, "answer", ANSWER_CALLS)
    assert calls.num_rows > 0 and calls.equals(json_calls)
    assert _same(rest, json_rest)
    merged = tmp_path / "merged"
    run_cli("share", "merge", str(answer), str(ex.victims_half), "--key", str(ex.key),
            "--out", str(merged))  # fmt: skip
    for table in ("voip_cdr.parquet", "exchange/unresolved.csv"):
        mine, theirs = merged / table, ex.merged / table
        if table.endswith(".parquet"):
            assert pq.read_table(mine).equals(pq.read_table(theirs)), table
        else:
            assert mine.read_bytes() == theirs.read_bytes(), table
    assert request.stat().st_size < ex.request.stat().st_size
    assert answer.stat().st_size < ex.answer.stat().st_size


def test_a_renamed_binary_message_still_reads(exchanges: dict[str, Exchange],
                                              tmp_path: Path) -> None:  # fmt: skip
    raw = read_message(exchanges["seed"].request, "request")
    binary = tmp_path / "request.parquet"
    write_message(binary, raw, REQUEST_CALLS)
    renamed = binary.rename(tmp_path / "request.json")
    assert columns_of(read_message(renamed, "request"), "calls", REQUEST_CALLS,
                      renamed).num_rows == len(raw["calls"]["t"])  # fmt: skip


def test_binary_files_that_are_not_messages_are_named(tmp_path: Path) -> None:
    table = pa.table({"callee": ["a"], "t": [1], "caller": ["b"]})
    bare = tmp_path / "bare.parquet"
    pq.write_table(table, bare)  # a Parquet file, but no message
    with pytest.raises(ExchangeError, match=r"bare\.parquet: Parquet metadata: not a scamtrace"):
        read_message(bare, "request")
    answer = tmp_path / "answer.parquet"
    write_message(answer, {"scamtrace_exchange": "answer", "calls": table.to_pydict()})
    with pytest.raises(ExchangeError, match="not a scamtrace exchange request"):
        read_message(answer, "request")
    raw = read_message(answer, "answer")
    with pytest.raises(ExchangeError, match=r"answer\.parquet: field calls: expected columns"):
        columns_of(raw, "calls", ANSWER_CALLS, answer)
    wrong = tmp_path / "wrong.arrow"
    write_message(wrong, {"scamtrace_exchange": "request",
                          "calls": {"callee": ["a"], "t": ["not a time"], "caller": ["b"]}})
    with pytest.raises(ExchangeError, match=r"wrong\.arrow: field calls"):
        columns_of(read_message(wrong, "request"), "calls", REQUEST_CALLS, wrong)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(bare.read_bytes()[: bare.stat().st_size // 2])
    with pytest.raises(ExchangeError, match=r"cut\.parquet: not a readable Parquet request"):
        read_message(cut, "request")
    odd = tmp_path / "odd.parquet"
    with pq.ParquetWriter(odd, table.schema) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({META_KEY: b"\xff{"})
    with pytest.raises(ExchangeError, match=r"odd\.parquet: Parquet metadata: not valid JSON"):
        read_message(odd, "request")
