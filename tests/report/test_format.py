"""How the report writes numbers, money and times: plain text, the value as written when it
is not a number or a time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from scamtrace.report.format import (
    fmt_count,
    fmt_day_span,
    fmt_money,
    fmt_score,
    fmt_span,
    fmt_time,
    parse_time,
    plural,
    to_decimal,
    to_int,
)


def test_counts_and_scores() -> None:
    assert fmt_count("12000") == "12,000"
    assert fmt_count("3.0") == "3"
    assert fmt_count(7) == "7"
    assert fmt_count("<x>") == "<x>"  # as written; the template escapes it
    assert fmt_count(None) == ""
    assert to_int("1.5") is None and to_int("1,200") == 1200
    assert fmt_score("0.9") == "0.90" and fmt_score("nan") == "nan" and fmt_score("x") == "x"


def test_money_biggest_first_and_zero() -> None:
    assert fmt_money({}) == "0"
    assert fmt_money({"USD": Decimal(20), "EUR": Decimal("1234.5")}) == "1,234.50 EUR; 20.00 USD"
    assert fmt_money({"": Decimal(5)}) == "5.00"
    assert fmt_money({"EUR": Decimal(0), "USD": Decimal(1)}) == "1.00 USD"
    assert to_decimal("1,234.50") == Decimal("1234.50") and to_decimal("inf") is None


def test_times() -> None:
    assert fmt_time("2016-07-01T08:00:00Z") == "2016-07-01 08:00:00 UTC"
    assert fmt_time("2016-07-01T08:00:00+00:00") == "2016-07-01 08:00:00 UTC"
    assert fmt_time("soon") == "soon" and fmt_time(None) == ""
    assert fmt_span("2016-07-01", "2016-07-01") == "2016-07-01"
    assert fmt_span("2016-07-01", "2016-07-02") == "2016-07-01 – 2016-07-02"
    assert fmt_span("", "2016-07-02") == "2016-07-02" and fmt_span("", "") == ""
    t = parse_time("2016-07-01 08:00:00")
    assert t == dt.datetime(2016, 7, 1, 8, tzinfo=dt.UTC)
    assert parse_time("2016-07-01T10:00:00+02:00") == t and parse_time("x") is None
    assert fmt_day_span(t, t + dt.timedelta(hours=2)) == "2016-07-01 08:00–10:00"
    assert fmt_day_span(t, t + dt.timedelta(days=2)) == "2016-07-01 – 2016-07-03"


def test_plural() -> None:
    assert plural(1, "victim") == "1 victim"
    assert plural(2000, "victim") == "2,000 victims"
    assert plural(2, "row was", "rows were") == "2 rows were"
