"""The typing step every format shares: Arrow's fast casts and DuckDB's TRY_CAST agree on
every value, so a column typed either way reads the same; Arrow's phone normalisation is the
SQL one."""

from __future__ import annotations

import datetime as dt

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
