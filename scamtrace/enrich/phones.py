"""Phone numbers to E.164, the way the holder of each table dialled them.

Numbers arrive as logged: ``+8613800138000``, ``008613800138000``, ``13800138000``, with spaces
or dashes, or withheld. Tables can hold hundreds of millions of rows, so the common formats are
normalised by a SQL expression (run by DuckDB, vectorised) built from the holder country's
dialling rules as ``phonenumbers`` publishes them (calling code, international and national
prefixes); ``phonenumbers`` itself then validates and types the few numbers a finding names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from scamtrace.errors import UnknownCountryError

#: What holders write when no caller ID was presented.
WITHHELD = ("", "anonymous", "unknown", "private", "withheld", "restricted", "unavailable")


@dataclass(frozen=True)
class DialPlan:
    """How subscribers of one country write numbers: the parts normalisation needs."""

    country: str
    calling_code: int
    international_prefix: str
    national_prefix: str


@cache
def dial_plan(country: str) -> DialPlan:
    """The dial plan of ``country`` (ISO 3166 alpha-2) from ``phonenumbers`` metadata."""
    code = country.upper()
    meta = PhoneMetadata.metadata_for_region(code)
    if meta is None:
        raise UnknownCountryError(f"{country!r} is not a country phonenumbers knows")
    # Some countries publish the international prefix as a pattern of carrier codes; the
    # preferred prefix (or the plain-digit one) is what switches log.
    intl = meta.preferred_international_prefix or meta.international_prefix or "00"
    if not intl.isdigit():
        intl = "00"
    national = meta.national_prefix or ""
    return DialPlan(code, int(meta.country_code or 0), intl, national)


def e164_sql(column: str, country: str) -> str:
    """A DuckDB SQL expression turning ``column`` (text) into E.164, or NULL when withheld
    or not a number. National numbers belong to ``country``."""
    plan = dial_plan(country)
    withheld = ", ".join(f"'{w}'" for w in WITHHELD)
    digits = f"regexp_replace(coalesce({column}, ''), '[^0-9]', '', 'g')"
    plus = f"starts_with(ltrim(coalesce({column}, '')), '+')"
    intl = plan.international_prefix
    national = plan.national_prefix
    d = digits
    body = (
        f"CASE WHEN lower(trim(coalesce({column}, ''))) IN ({withheld}) THEN NULL "
        f"WHEN {plus} THEN '+' || {d} "
        f"WHEN starts_with({d}, '{intl}') THEN '+' || substr({d}, {len(intl) + 1}) "
        f"ELSE '+{plan.calling_code}' || {_strip(d, national)} END"
    )
    shape = "'\\+[1-9][0-9]{6,14}'"
    return f"(CASE WHEN regexp_full_match(coalesce({body}, ''), {shape}) THEN {body} END)"


def _strip(digits: str, national: str) -> str:
    if not national:
        return digits
    return (f"(CASE WHEN starts_with({digits}, '{national}') "
            f"THEN substr({digits}, {len(national) + 1}) ELSE {digits} END)")  # fmt: skip


def phone_parts_sql(column: str) -> dict[str, str]:
    """The regex work of normalisation, done once per value: its digits, whether it was
    written with ``+``, and whether it says no number was presented."""
    text = f"coalesce(trim(CAST({column} AS VARCHAR)), '')"
    withheld = ", ".join(f"'{w}'" for w in WITHHELD)
    return {
        "digits": f"regexp_replace({text}, '[^0-9]', '', 'g')",
        "plus": f"starts_with({text}, '+')",
        "withheld": f"lower({text}) IN ({withheld})",
    }


def phone_number_sql(digits: str, plus: str, withheld: str, country: str) -> str:
    """E.164 as ``BIGINT`` from :func:`phone_parts_sql` columns (cheap string operations
    only); NULL when withheld. Check the range with :func:`valid_number_sql`."""
    plan = dial_plan(country)
    intl, national = plan.international_prefix, plan.national_prefix
    return (
        f"CASE WHEN {withheld} THEN NULL "
        f"WHEN {plus} THEN TRY_CAST({digits} AS BIGINT) "
        f"WHEN starts_with({digits}, '{intl}') "
        f"THEN TRY_CAST(substr({digits}, {len(intl) + 1}) AS BIGINT) "
        f"ELSE TRY_CAST('{plan.calling_code}' || {_strip(digits, national)} AS BIGINT) END"
    )


def valid_number_sql(number: str) -> str:
    """The number itself when it has E.164's 7 to 15 digits, else NULL."""
    return f"CASE WHEN {number} BETWEEN 1000000 AND 999999999999999 THEN {number} END"


_CLEAN = re.compile(r"[^0-9]")


def to_e164(text: str | None, country: str) -> str | None:
    """One number to E.164 with the same rules as :func:`e164_sql` (for small inputs)."""
    if text is None or text.strip().lower() in WITHHELD:
        return None
    plan = dial_plan(country)
    digits = _CLEAN.sub("", text)
    if text.lstrip().startswith("+"):
        out = "+" + digits
    elif digits.startswith(plan.international_prefix):
        out = "+" + digits[len(plan.international_prefix):]
    else:
        national = digits
        if plan.national_prefix and national.startswith(plan.national_prefix):
            national = national[len(plan.national_prefix):]
        out = f"+{plan.calling_code}{national}"
    return out if re.fullmatch(r"\+[1-9][0-9]{6,14}", out) else None


@dataclass(frozen=True)
class NumberFacts:
    """What ``phonenumbers`` says of one E.164 number."""

    valid: bool
    country: str
    number_type: str


_TYPE_NAMES = {v: k.lower() for k, v in vars(PhoneNumberType).items() if isinstance(v, int)}


def number_facts(numbers: Iterable[str]) -> dict[str, NumberFacts]:
    """Validity, country and type (mobile, fixed_line, toll_free...) of E.164 numbers."""
    facts: dict[str, NumberFacts] = {}
    for number in set(numbers):
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            facts[number] = NumberFacts(False, "", "unknown")
            continue
        kind = _TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
        facts[number] = NumberFacts(
            phonenumbers.is_valid_number(parsed),
            phonenumbers.region_code_for_number(parsed) or "",
            kind,
        )
    return facts


#: Number types honest businesses present as caller ID for their hotlines.
BUSINESS_TYPES = frozenset({"toll_free", "shared_cost", "uan", "premium_rate"})


def calling_code_sql(number: str) -> str:
    """A DuckDB SQL expression: the country calling code of an E.164 ``BIGINT`` (digits
    without ``+``), from ``phonenumbers``' table of codes (they are prefix-free)."""
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    text = f"CAST({number} AS VARCHAR)"
    parts = []
    for width in (1, 2, 3):
        listed = ", ".join(f"'{c}'" for c in codes if len(str(c)) == width)
        parts.append(f"WHEN left({text}, {width}) IN ({listed}) THEN {width}")
    digits = f"(CASE {' '.join(parts)} ELSE 0 END)"
    cast = f"TRY_CAST(left({text}, {digits}) AS INTEGER)"
    return f"(CASE WHEN {number} IS NULL THEN NULL ELSE {cast} END)"


def calling_code(country: str) -> int:
    return dial_plan(country).calling_code
