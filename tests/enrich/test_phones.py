"""Phone normalisation: the vectorised SQL and the one-number function agree with each other
and with phonenumbers, for every format holders log."""

from __future__ import annotations

import duckdb
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scamtrace.core.errors import UnknownCountryError
from scamtrace.core.phones import (
    calling_code_sql,
    dial_plan,
    e164_sql,
    number_facts,
    phone_number_sql,
    phone_parts_sql,
    to_e164,
    valid_number_sql,
)

SAMPLES = {
    "CN": ["13800138000", "010 6611 0110", "+86 138-0013-8000", "008613800138000"],
    "ES": ["912345678", "+34 912 345 678", "0034912345678"],
    "US": ["(212) 555-0123", "1 212 555 0123", "011 44 20 7946 0000"],
    "GB": ["020 7946 0000", "+44 20 7946 0000"],
}


def _sql(values: list[str | None], country: str) -> list[str | None]:
    rows = duckdb.sql(
        f"SELECT {e164_sql('x', country)} FROM (SELECT unnest(?::VARCHAR[]) AS x)",
        params=[values],
    ).fetchall()
    return [r[0] for r in rows]


def _staged(values: list[str | None], country: str) -> list[int | None]:
    parts = ", ".join(f"{expr} AS {name}" for name, expr in phone_parts_sql("x").items())
    number = phone_number_sql("digits", "plus", "withheld", country)
    rows = duckdb.sql(
        f"SELECT {valid_number_sql(f'({number})')} FROM "
        f"(SELECT {parts} FROM (SELECT unnest(?::VARCHAR[]) AS x))",
        params=[values],
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("country", sorted(SAMPLES))
def test_formats_agree_with_phonenumbers(country: str) -> None:
    values = SAMPLES[country]
    expected = [
        phonenumbers.format_number(phonenumbers.parse(v.replace("011 ", "+") if country == "US"
                                   and v.startswith("011") else v, country),
                                   phonenumbers.PhoneNumberFormat.E164)
        for v in values
    ]  # fmt: skip
    assert _sql(values, country) == expected
    assert [to_e164(v, country) for v in values] == expected
    assert _staged(values, country) == [int(e[1:]) for e in expected]


def test_withheld_and_garbage_are_empty() -> None:
    values = ["", "anonymous", "Unknown", "withheld", "12", None, "abc"]
    assert _sql(values, "CN") == [None] * len(values)
    assert _staged(values, "CN") == [None] * len(values)
    assert [to_e164(v, "CN") for v in values] == [None] * len(values)


@settings(max_examples=200, deadline=None)
@given(
    national=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    style=st.sampled_from(["plain", "plus", "idd", "spaced"]),
)
def test_sql_and_python_agree_on_any_mobile(national: str, style: str) -> None:
    text = {"plain": national, "plus": f"+86{national}", "idd": f"0086{national}",
            "spaced": f"{national[:3]} {national[3:7]}-{national[7:]}"}[style]  # fmt: skip
    expected = f"+86{national}"
    assert to_e164(text, "CN") == expected
    assert _sql([text], "CN") == [expected]
    assert _staged([text], "CN") == [int(expected[1:])]


def test_calling_codes_are_prefix_matched() -> None:
    numbers = [8613800138000, 34912345678, 12125550123, 35312345678, None]
    rows = duckdb.sql(
        f"SELECT {calling_code_sql('n')} FROM (SELECT unnest(?::BIGINT[]) AS n)",
        params=[numbers],
    ).fetchall()
    assert [r[0] for r in rows] == [86, 34, 1, 353, None]


def test_number_facts_types() -> None:
    facts = number_facts(["+8613800138000", "+864001234567", "+86123"])
    assert facts["+8613800138000"].number_type == "mobile" and facts["+8613800138000"].valid
    assert facts["+864001234567"].number_type in {"uan", "shared_cost", "toll_free"}
    assert not facts["+86123"].valid


def test_unknown_country() -> None:
    with pytest.raises(UnknownCountryError):
        dial_plan("XX")
