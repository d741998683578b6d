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

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, PhoneNumberType

from scamtrace.core.errors import UnknownCountryError

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


# ------------------------------------------------------------------ validity, vectorised
# ``phonenumbers.is_valid_number`` is a Python call per number; for whole columns the same
# rules run as Arrow kernels over the numbers of each calling code at once: a national
# significant number is valid for a region when it fits the region's general pattern and
# lengths and one of its number types' (fixed line, mobile, toll free...). The patterns are
# ``phonenumbers``' own (they are RE2-compatible).

_TYPE_DESCS = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip",
               "personal_number", "pager", "uan", "voicemail")  # fmt: skip

#: (pattern, lengths): lengths empty means any length.
_Desc = tuple[str, tuple[int, ...]]


def _desc(desc: object) -> _Desc | None:
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return None
    lengths = tuple(n for n in (getattr(desc, "possible_length", None) or ()) if n > 0)
    return f"^(?:{pattern})$", lengths


@cache
def _region_rules(calling_code: int) -> tuple[tuple[_Desc, tuple[_Desc, ...]], ...]:
    """For each region (or non-geographic entity) sharing ``calling_code``: its general
    description and its number types' descriptions."""
    metas = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ()):
        meta = (PhoneMetadata.metadata_for_nongeo_region(calling_code) if region == "001"
                else PhoneMetadata.metadata_for_region(region))  # fmt: skip
        if meta is not None:
            metas.append(meta)
    rules = []
    for meta in metas:
        general = _desc(meta.general_desc)
        types = tuple(d for d in (_desc(getattr(meta, n, None)) for n in _TYPE_DESCS) if d)
        if general is not None and types:
            rules.append((general, types))
    return tuple(rules)


def _matches(numbers: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.match_substring_regex(numbers, pattern), False)
                      .to_numpy(zero_copy_only=False), dtype=bool)  # fmt: skip


def valid_national_numbers(numbers: pa.Array, calling_code: int) -> pa.Array:
    """For each national significant number (digits only, text), whether
    ``phonenumbers.is_valid_number`` holds for ``+calling_code`` followed by it.

    Each region's general pattern runs on the numbers of a length it allows; its number
    types' patterns only on those that fit it and no type yet."""
    numbers = numbers.cast(pa.string())
    valid = np.zeros(len(numbers), dtype=bool)
    if len(numbers) == 0:
        return pa.array(valid)
    lengths = np.asarray(pc.fill_null(pc.utf8_length(numbers), 0).to_numpy(zero_copy_only=False))
    for (pattern, allowed), types in _region_rules(calling_code):
        todo = ~valid if not allowed else ~valid & np.isin(lengths, allowed)
        rows = np.flatnonzero(todo)
        if rows.size == 0:
            continue
        rows = rows[_matches(numbers.take(rows), pattern)]
        for type_pattern, type_allowed in types:
            pending = rows[~valid[rows]]
            if type_allowed:
                pending = pending[np.isin(lengths[pending], type_allowed)]
            if pending.size:
                valid[pending[_matches(numbers.take(pending), type_pattern)]] = True
    return pa.array(valid)


def valid_international_digits(digits: pa.Array) -> pa.Array:
    """For each string of digits (no ``+``), whether it is a valid number when read as
    international: a country calling code, then a valid national number of that country."""
    digits = digits.cast(pa.string())
    valid = pa.repeat(False, len(digits)).cast(pa.bool_())
    if len(digits) == 0:
        return valid
    # Calling codes are prefix-free: at most one of a value's first 1, 2, 3 digits is one.
    code = pa.nulls(len(digits), pa.string())
    for width in (3, 2, 1):
        listed = pa.array([str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
                           if len(str(c)) == width], pa.string())  # fmt: skip
        head = pc.utf8_slice_codeunits(digits, 0, width)
        code = pc.if_else(pc.is_in(head, listed), head, code)
    for found in pc.unique(code.drop_null()).to_pylist():
        here = pc.fill_null(pc.equal(code, found), False)
        subset = digits.filter(here)
        rest = pc.utf8_slice_codeunits(subset, len(found))
        fits = valid_national_numbers(rest, int(found))
        prefix = _national_prefixes(int(found))
        if prefix is not None:
            # After a calling code phonenumbers may still strip a trunk prefix (+61 03...,
            # +49 0...), by rules too intricate to mirror; the few such values it judges.
            odd = pc.fill_null(pc.match_substring_regex(rest, prefix), False)
            if pc.any(odd).as_py():
                judged = _judged(subset.filter(odd))
                fits = pc.replace_with_mask(fits, odd, judged)
        valid = pc.replace_with_mask(valid, here, fits)
    return valid


@cache
def _national_prefixes(calling_code: int) -> str | None:
    """RE2 pattern matching a value that starts with a national prefix of any region of
    ``calling_code`` (as ``phonenumbers`` parses them), or None when none has one."""
    patterns = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ()):
        meta = (PhoneMetadata.metadata_for_nongeo_region(calling_code) if region == "001"
                else PhoneMetadata.metadata_for_region(region))  # fmt: skip
        prefix = meta and (meta.national_prefix_for_parsing or meta.national_prefix)
        if prefix:
            patterns.append(f"(?:{prefix})")
    return f"^(?:{'|'.join(patterns)})" if patterns else None


def _judged(digits: pa.Array) -> pa.Array:
    """``phonenumbers.is_valid_number`` of ``+digits``, once per distinct value."""
    distinct = pc.unique(digits)
    verdicts = []
    for value in distinct.to_pylist():
        try:
            verdicts.append(phonenumbers.is_valid_number(phonenumbers.parse(f"+{value}")))
        except phonenumbers.NumberParseException:
            verdicts.append(False)
    return pc.take(pa.array(verdicts, pa.bool_()), pc.index_in(digits, value_set=distinct))


def valid_national_digits(digits: pa.Array, country: str) -> pa.Array:
    """For each string of digits, whether it is a valid number of ``country`` when read the
    way ingest reads a national number (one national prefix dropped, then the digits after
    the calling code): ``phonenumbers``' patterns, vectorised."""
    plan = dial_plan(country)
    digits = digits.cast(pa.string())
    if plan.national_prefix:
        trunk = pc.fill_null(pc.starts_with(digits, plan.national_prefix), False)
        digits = pc.if_else(trunk, pc.utf8_slice_codeunits(digits, len(plan.national_prefix)),
                            digits)  # fmt: skip
    return valid_national_numbers(digits, plan.calling_code)


def international_user_parts(text: pa.Array, country: str) -> pa.Array:
    """For each value as logged in a SIP user part, whether it is international digits
    written without ``+`` (``8613800138000``): digits only, not after the international
    prefix of ``country``, a valid number when read after a ``+``, and not a valid national
    number of ``country`` (a holder's own subscribers keep their national reading)."""
    plan = dial_plan(country)
    text = pc.utf8_trim_whitespace(text.cast(pa.string()))
    plain = pc.and_(pc.fill_null(pc.ascii_is_decimal(text), False),
                    pc.invert(pc.starts_with(text, plan.international_prefix)))  # fmt: skip
    plain = pc.fill_null(pc.and_(plain, pc.greater_equal(pc.utf8_length(text), 7)), False)
    result = pa.repeat(False, len(text)).cast(pa.bool_())
    if not pc.any(plain).as_py():
        return result
    candidates = text.filter(plain)
    # Each distinct value is judged once where values repeat (a call center's few caller
    # IDs); where most are distinct, finding them costs more than judging every value.
    sample = candidates.slice(0, 20_000)
    repeated = pc.count_distinct(sample).as_py() * 2 <= len(sample)
    values = pc.unique(candidates) if repeated else candidates
    # The holder's reading first: most values are its own subscribers, and only the others
    # need every calling code's patterns.
    foreign = pc.invert(valid_national_digits(values, country))
    verdict = pc.replace_with_mask(foreign, foreign,
                                   valid_international_digits(values.filter(foreign)))
    found = pc.take(verdict, pc.index_in(candidates, value_set=values)) if repeated else verdict
    return pc.replace_with_mask(result, plain, found)


def phone_columns(text: pa.Array, country: str) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Arrow kernels doing what :func:`phone_parts_sql` and :func:`phone_number_sql` with
    :func:`valid_number_sql` do, for a whole column: (whether withheld, the digits, E.164
    digits without ``+`` or null where the number does not have E.164's 7 to 15 digits).

    Every step but the first works on the few rows it concerns (filter, change, put back),
    so the common value (national digits) costs a handful of passes over the column. The
    kernels are the cheapest that give the same text: ASCII trims (a space or a ``0`` is
    one byte in UTF-8), and a prefix written by ``binary_replace_slice``, several times
    faster than joining a scalar to each value."""
    plan = dial_plan(country)
    # Spaces trimmed, as SQL's trim() does in phone_parts_sql.
    text = pc.fill_null(pc.ascii_trim(text.cast(pa.string()), " "), "")
    plus = pc.starts_with(text, "+")
    # Leading pluses dropped: a value with two is not digits either way, and the digits
    # of every value that is not are its digits only (the regex below).
    body = pc.ascii_ltrim(text, "+") if pc.any(plus).as_py() else text
    # Most values are digits already (or + and digits): the others are read below, and only
    # they can be a word saying the number was withheld (or empty).
    messy = pc.invert(pc.fill_null(pc.ascii_is_decimal(body), False))
    digits = body
    withheld = pa.repeat(False, len(text)).cast(pa.bool_())
    if pc.any(messy).as_py():
        odd = text.filter(messy)
        digits = pc.replace_with_mask(body, messy, _only_digits(odd))
        said = pc.is_in(pc.utf8_lower(odd), pa.array(WITHHELD, pa.string()))
        withheld = pc.replace_with_mask(withheld, messy, said)
    intl, national = plan.international_prefix, plan.national_prefix
    code = str(plan.calling_code)
    if set(intl) == {"0"} and national in ("", "0"):
        # Most dial plans (00 abroad, 0 or nothing before a national number): one pass drops
        # the leading zeros, which is all either prefix needs, and leading zeros do not count
        # in a number written after + or 00.
        stripped = pc.ascii_ltrim(digits, "0")
        abroad = pc.or_(plus, pc.starts_with(digits, intl))
        local = stripped if national else digits
        if pc.all(abroad).as_py():  # a trunk abroad: no national number to prefix
            return withheld, digits, _e164_sized(stripped, withheld)
        number = pc.binary_replace_slice(local, 0, 0, code)
        if pc.any(abroad).as_py():
            number = pc.if_else(abroad, stripped, number)
        return withheld, digits, _e164_sized(number, withheld)
    # National by default: the calling code, then the digits without the national prefix.
    number = pc.binary_replace_slice(digits, 0, 0, code)
    if national:
        trunk = pc.starts_with(digits, national)
        if pc.any(trunk).as_py():
            local = pc.utf8_slice_codeunits(digits.filter(trunk), len(national))
            number = pc.replace_with_mask(number, trunk,
                                          pc.binary_replace_slice(local, 0, 0, code))
    # After + or the international prefix the digits are the number; as a number, leading
    # zeros do not count (a calling code never starts with 0, so national ones have none).
    abroad = pc.and_(pc.invert(plus), pc.starts_with(digits, intl))
    for where, skip in ((abroad, len(intl)), (plus, 0)):
        if pc.any(where).as_py():
            given = pc.utf8_slice_codeunits(digits.filter(where), skip)
            number = pc.replace_with_mask(number, where, pc.ascii_ltrim(given, "0"))
    return withheld, digits, _e164_sized(number, withheld)


def _only_digits(text: pa.Array) -> pa.Array:
    """``text`` without its non-digits. Spaces are the usual separators (``187 7823 4502``)
    and a plain replacement removes them at a sixth of a regex's cost; the regex runs on
    what still holds something else."""
    spaced = pc.replace_substring(text, " ", "")
    other = pc.invert(pc.fill_null(pc.ascii_is_decimal(spaced), False))
    if not pc.any(other).as_py():
        return spaced
    return pc.replace_with_mask(spaced, other,
                                pc.replace_substring_regex(spaced.filter(other), "[^0-9]", ""))


def _e164_sized(number: pa.Array, withheld: pa.Array) -> pa.Array:
    """``number`` where it has E.164's 7 to 15 digits and was not withheld, else null."""
    size = pc.binary_length(number)
    fits = pc.fill_null(pc.and_(pc.and_(pc.greater_equal(size, 7), pc.less_equal(size, 15)),
                                pc.invert(withheld)), False)  # fmt: skip
    if number.type == pa.string() and number.offset == 0 and fits.offset == 0:
        # The same values with ``fits`` as their validity bitmap: nothing copied (a null
        # ``number`` has a null size, so it does not fit and stays null).
        return pa.Array.from_buffers(pa.string(), len(number),
                                     [fits.buffers()[1], *number.buffers()[1:]])  # fmt: skip
    return pc.if_else(fits, number, pa.scalar(None, pa.string()))
