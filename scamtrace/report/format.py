"""How the report writes numbers, money, times and counted words.

Every function returns plain text (never HTML): the templates escape what they print. Values
come from findings files as text, so the readers here accept anything and fall back to the
text as written when it is not a number or a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

Money = dict[str, Decimal]
"""Amounts per currency code ("" when the currency is unknown)."""


def to_int(value: object) -> int | None:
    """A whole number from findings text (``"1,200"``, ``"3.0"``), or None."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


def to_decimal(value: object) -> Decimal | None:
    """A finite amount from findings text (``"1,234.50"``), or None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def to_score(value: object) -> float | None:
    """A score from findings text, or None when it is not a number (NaN included)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number else None


def fmt_count(value: object) -> str:
    """A count with thousands separators, or the text as written when it is not a number."""
    n = to_int(value)
    return f"{n:,}" if n is not None else str(value if value is not None else "")


def fmt_score(value: str) -> str:
    """A score with two decimals, or the text as written when it is not a number."""
    score = to_score(value)
    return f"{score:.2f}" if score is not None else value


def fmt_money(money: Mapping[str, Decimal]) -> str:
    """``1,234.50 EUR; 20.00 USD`` (biggest first), ``0`` when empty."""
    parts = [
        f"{amount:,.2f} {currency}".rstrip()
        for currency, amount in sorted(money.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        if amount or len(money) == 1
    ]
    return "; ".join(parts) if parts else "0"


def add_money(into: Money, other: Mapping[str, Decimal]) -> None:
    """Add ``other`` to ``into``, currency by currency."""
    for currency, amount in other.items():
        into[currency] = into.get(currency, Decimal(0)) + amount


def money_size(money: Mapping[str, Decimal]) -> Decimal:
    """All currencies added up: only to sort by, never shown."""
    return sum(money.values(), Decimal(0))


def fmt_time(value: object) -> str:
    """ISO time for reading: ``2016-07-01T08:00:00Z`` -> ``2016-07-01 08:00:00 UTC``."""
    text = str(value or "").strip()
    if len(text) >= 19 and text[10:11] == "T":
        text = text[:10] + " " + text[11:]
        if text.endswith("Z"):
            text = text[:-1] + " UTC"
        elif text.endswith("+00:00"):
            text = text[:-6] + " UTC"
    return text


def parse_time(value: object) -> dt.datetime | None:
    """ISO 8601 text to an aware UTC datetime (naive times taken as UTC); None if unreadable."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace(" UTC", "Z"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def fmt_span(first: str, last: str) -> str:
    """``first – last`` as times for reading; one of them when the other is absent or equal."""
    a, b = fmt_time(first), fmt_time(last)
    if not a and not b:
        return ""
    if a == b or not b:
        return a
    return f"{a} – {b}" if a else b


def fmt_day_span(a: dt.datetime, b: dt.datetime) -> str:
    """``2016-07-01 08:00–18:00`` within a day, ``2016-07-01 – 2016-07-20`` across days."""
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M}"
    return f"{a:%Y-%m-%d} – {b:%Y-%m-%d}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 victim``, ``2,000 victims`` (``words`` when the plural is not ``word + "s"``)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
