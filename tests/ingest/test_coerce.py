"""The typing step every format shares: Arrow's fast casts and DuckDB's TRY_CAST agree on
every value, so a column typed either way reads the same; Arrow's phone normalisation is the
SQL one; and a case folder opened by ``detect`` is typed as ``ingest`` types it."""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scamtrace.core.phones import (
    phone_columns,
    phone_number_sql,
    phone_parts_sql,
    valid_number_sql,
)
from scamtrace.core.sql import run
from scamtrace.enrich.case import open_case
from scamtrace.ingest.base import coerce, text_table

_two = st.integers(0, 99).map(lambda n: f"{n:02d}")
_times = st.builds(
    lambda y, mo, d, sep, h, mi, rest, zone: f"{y:04d}-{mo}-{d}{sep}{h}{mi}{rest}{zone}",
    st.integers(1, 9999), _two, _two, st.sampled_from(["T", " ", "t"]), _two,
    st.sampled_from([":00", ":59", ":60", "", "00"]),
    st.sampled_from(["", ":00", ":59.5", ":00.123456", ":00.1234567", ":61", "."]),
    st.sampled_from(["", "Z", "z", "+01:00", "-03:30", "+0100", "+01", "+25:00", " Z"]),
)  # fmt: skip
_ints = st.one_of(st.integers(-(2**63), 2**63 - 1).map(str), st.sampled_from(
    ["+5", "0x10", "007", "1e3", "12.0", "1_000", " 5", "9223372036854775808"]))  # fmt: skip


def _expected(times: list[str], ints: list[str]) -> list[tuple[object, object]]:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    rows = []
    for t, i in zip(times, ints, strict=True):
        rows.append(db.execute(
            "SELECT TRY_CAST(nullif(trim(?), '') AS TIMESTAMPTZ), "
            "coalesce(TRY_CAST(nullif(trim(?), '') AS BIGINT), "
            "TRY_CAST(TRY_CAST(nullif(trim(?), '') AS DECIMAL(38, 6)) AS BIGINT))",
            [t, i, i]).fetchall()[0])  # fmt: skip
    return rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_times, _ints), min_size=1, max_size=4), st.booleans())
@example([("2016-07-01T10Z", "1")], False)  # Arrow reads an hour alone; DuckDB does not
@example([("2016-07-01 10:00:00", "+5")], False)
def test_fast_casts_agree_with_duckdb(values: list[tuple[str, str]], uniform: bool) -> None:
    times = [t for t, _ in values]
    ints = [i for _, i in values]
    if uniform:  # every value of a kind Arrow reads: the fast path is taken
        times = ["2016-07-01T10:00:00+08:00"] * len(values)
    raw = text_table({"call_id": [f"c{n}" for n in range(len(values))], "start_time": times,
                      "to_number": ["+8613800138000"] * len(values), "duration_s": ints},
                     list(range(1, len(values) + 1)))  # fmt: skip
    batch = coerce("voip_cdr", raw, "x", "CN")
    expected = _expected(times, ints)
    kept = {r["call_id"]: (r["start_time"], r["duration_s"]) for r in batch.data.to_pylist()}
    rejected = {r.line: r.field for r in batch.rejected}
    for n, (when, seconds) in enumerate(expected):
        # Times from the epoch (excluded: a zero time is unknown) to 2100; no negative
        # durations.
        if when is None or not _in_range(when) or (seconds is None and ints[n].strip()) \
                or (seconds is not None and seconds < 0):  # fmt: skip
            assert rejected.get(n + 1) in ("start_time", "duration_s"), (times[n], ints[n])
        else:
            assert kept[f"c{n}"] == (when, seconds), (times[n], ints[n])


def _in_range(value: object) -> bool:
    if str(value) in ("infinity", "-infinity") or "BC" in str(value):
        return False
    assert isinstance(value, dt.datetime)
    return EPOCH < value < END


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text("0123456789 +-()\tanoymus", max_size=18)),
                min_size=1, max_size=30),
       st.sampled_from(["CN", "ES", "US", "RU", "JP", "GB"]))  # fmt: skip
def test_phone_kernels_agree_with_the_sql_rules(values: list[str | None], country: str) -> None:
    """Arrow's phone normalisation is ``core/phones.py``'s SQL (what ``detect`` runs on a
    case of CSV tables), value for value, in every dial plan (00/0, 00/none, 011/1, 00/8,
    010/0)."""
    withheld, digits, number = phone_columns(pa.array(values, pa.string()), country)
    parts = phone_parts_sql("v")
    e164 = phone_number_sql("d", "p", "w", country)
    db = duckdb.connect()
    db.register("t", pa.table({"v": pa.array(values, pa.string()),
                               "i": pa.array(range(len(values)))}))  # fmt: skip
    expected = db.sql(
        f"SELECT w, d, CAST({valid_number_sql(f'({e164})')} AS VARCHAR) FROM (SELECT "
        f"{parts['digits']} d, {parts['plus']} p, {parts['withheld']} w, i FROM t) ORDER BY i"
    ).fetchall()  # fmt: skip
    got = list(zip(withheld.to_pylist(), digits.to_pylist(), number.to_pylist(), strict=True))
    assert got == [tuple(r) for r in expected]


_STAGE_TIMES = st.one_of(
    st.builds(lambda year, sep, seconds, zone: f"{year}-07-01{sep}10:00{seconds}{zone}",
              st.sampled_from([1969, 1970, 2016, 2099, 2100, 2150]), st.sampled_from(["T", " "]),
              st.sampled_from(["", ":05"]), st.sampled_from(["", "Z", "+02:00"])),
    st.sampled_from(["1970-01-01T00:00:00Z", "epoch", "infinity", "yesterday", "2016-07-01",
                     "", "20160701T100000", " 2016-07-01 10:00:00 "]),
)  # fmt: skip
_STAGE_INTS = st.sampled_from(["30", "0", "-5", "12.0", "1e3", "thirty", "", " 7",
                               "9223372036854775807", "9007199254740993"])  # fmt: skip
_STAGE_FLAGS = st.sampled_from(["true", "false", "1", "0", "", "TRUE", " Yes ", "n", "maybe", "2"])
_STAGE_PHONES = st.one_of(
    st.sampled_from(["13800138000", "+86 139 0000 0000", "008613800138000", "anonymous", "",
                     "12", "+1 202 555 0100", "0912345678", "+0123456789"]),
    st.text("0123456789 +-", max_size=16),
)  # fmt: skip
_STAGE_AMOUNTS = st.sampled_from(["12.50", "1,234.56", "1.234,56", "1 234,56", "0.005", "1.230",
                                  "-5", "NaN", "1e3", "", "12", "+7", "1.234", ".5",
                                  "99999999999999999", "1'234.50", "abc"])  # fmt: skip
_CARRIER = ("call_id", "start_time", "caller_number", "called_number", "duration_s", "answered",
            "ingress_trunk", "ingress_country")  # fmt: skip
_TRANSFERS = ("tx_id", "time", "payer_account", "payee_account", "amount", "currency", "channel")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_STAGE_TIMES, _STAGE_PHONES, _STAGE_PHONES, _STAGE_INTS,
                          _STAGE_FLAGS, _STAGE_AMOUNTS), min_size=1, max_size=6))  # fmt: skip
def test_ingest_and_a_case_opened_by_detect_type_alike(
    rows: list[tuple[str, str, str, str, str, str]],
) -> None:
    """One rule set (``core/values.py``, ``core/amounts.py``, the contract's required
    columns): a row ``ingest`` keeps, ``enrich`` keeps when it reads the same text from a case
    folder, with the same values; a row one sets aside, the other does too."""
    # The number dialled is always readable here: the one rule that differs on purpose is that
    # enrich keeps a call whose dialled number is empty (tests/enrich/test_case.py says why).
    carrier = [(f"c{n}", t, caller, "13900000000", seconds, flag, "T1", "ES")
               for n, (t, caller, _called, seconds, flag, _a) in enumerate(rows)]  # fmt: skip
    transfers = [(f"t{n}", t, "A", "B", amount, "CNY", "online")
                 for n, (t, *_rest, amount) in enumerate(rows)]  # fmt: skip
    lines = [n + 2 for n in range(len(rows))]  # the CSV's, header first
    ingested = {
        name: coerce(name, text_table(dict(zip(header, map(list, zip(*body, strict=True)),
                                               strict=True)), lines), "x", "CN")
        for name, header, body in (("carrier_cdr", _CARRIER, carrier),
                                   ("transfers", _TRANSFERS, transfers))
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, header, body in (("carrier_cdr", _CARRIER, carrier),
                                   ("transfers", _TRANSFERS, transfers)):  # fmt: skip
            with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerows([header, *body])
        (folder / "holder.json").write_text('{"country": "CN"}')
        case = open_case(folder, tables=("carrier_cdr", "transfers"))
        opened = {
            "carrier_cdr": run(case.db, "SELECT _line, start_time, caller_number, called_number, "
                                        "duration_s, answered FROM carrier_cdr"),
            "transfers": run(case.db, "SELECT _line, time, amount FROM transfers"),
        }  # fmt: skip
        set_aside = {(str(t), int(ln)) for t, ln in run(case.db, "SELECT tbl, line FROM rejected")}
    for name, batch in ingested.items():
        kept = dict(zip(batch.lines.to_pylist(), batch.data.to_pylist(), strict=True))
        read = {int(r[0]): r[1:] for r in opened[name]}
        assert set(kept) == set(read), (name, rows)
        assert {r.line for r in batch.rejected} == {ln for t, ln in set_aside if t == name}
        for line, row in kept.items():
            if name == "transfers":
                when, amount = read[line]
                assert (when, amount) == (int(row["time"].timestamp()), float(row["amount"]))
                continue
            when, caller, called, seconds, flag = read[line]
            assert when == int(row["start_time"].timestamp())
            assert (seconds, flag) == (row["duration_s"], row["answered"])
            assert f"+{called}" == row["called_number"]
            if caller is not None:
                assert f"+{caller}" == row["caller_number"]
            else:  # withheld, or kept as logged
                assert re.fullmatch(r"\+[1-9][0-9]{6,14}", row["caller_number"]) is None
