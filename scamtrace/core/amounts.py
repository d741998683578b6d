"""Amounts as a holder writes them, read exactly into the contract's decimal (2 places), by
Arrow kernels over the whole column; what cannot be read without guessing is set aside.

Read (after trimming spaces; an optional leading ``+``):

- plain digits with an optional decimal point or comma: ``12``, ``12.5``, ``12,50``, ``.5``;
- thousands grouped by ``,`` with a ``.`` decimal point (``1,234.56``, ``1,234,567``), by
  ``.`` with a ``,`` decimal comma (``1.234,56``, ``1.234.567``), or by spaces (also no-break
  and thin spaces) or apostrophes with either decimal mark (``1 234,56``, ``1'234.56``).

Set aside, each with its reason (:data:`REASONS`):

- *ambiguous*: one ``,`` or ``.`` followed by exactly three digits after a leading group of one
  to three digits (``1,234``, ``1.234``, ``12.500``): a thousands separator (1234) or a decimal
  mark (1.234) alike, and nothing in the value says which;
- *too precise*: more than 2 decimal places that are not zeros (``0.005``; ``1.230`` is 1.23):
  keeping them would need rounding;
- *too large*: more than 16 digits before the point (the contract's ``DECIMAL(18, 2)``);
- *not an amount*: anything else (negative, ``NaN``, ``inf``, ``1e3``, letters, mixed marks).

``plain`` columns (ISO 20022 ``xs:decimal``, numbers typed in Parquet, machine-written AMLSim
CSV) take only digits with a ``.`` decimal point: there a ``.`` is never a thousands separator.

``ingest`` reads amounts with :func:`parse_amounts`; ``enrich``, typing a case folder in DuckDB,
with :func:`amount_sql`, which casts the common shape in SQL and hands every other value to
:func:`parse_amounts` itself: one rule, never a second reading of it.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.sqltypes import VARCHAR

from scamtrace.core.contract import AMOUNT

NOT_AN_AMOUNT = "not a positive amount"
AMBIGUOUS = "ambiguous amount: a lone , or . before 3 digits may group thousands or mark decimals"
TOO_PRECISE = "more than 2 decimal places (reading it would round it)"
TOO_LARGE = "amount too large (more than 16 digits before the point)"
#: Every reason an amount is set aside for, in the order :func:`parse_amounts` tests them.
REASONS = (NOT_AN_AMOUNT, AMBIGUOUS, TOO_PRECISE, TOO_LARGE)

# RE2 patterns over the trimmed text, sign removed. A group separator: comma, dot, space,
# no-break space, narrow no-break space, thin space, apostrophe, right single quote.
_FAST = r"^\+?[0-9]{1,16}(\.[0-9]{1,2})?$"  # most values: read by one cast
_SIGN = r"^\+"
_NEGATIVE = r"^-"
_PLAIN = r"^([0-9]+\.?[0-9]*|\.[0-9]+)$"
_ONE_MARK = r"^([0-9]+[.,]?[0-9]*|[.,][0-9]+)$"
_AMBIGUOUS = r"^[1-9][0-9]{0,2}[.,][0-9]{3}$"
_COMMA_GROUPS = r"^[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?$"
_DOT_GROUPS = r"^[1-9][0-9]{0,2}(\.[0-9]{3})+(,[0-9]*)?$"
_SPACE_GROUPS = "^[1-9][0-9]{0,2}([ \u00a0\u202f\u2009'\u2019][0-9]{3})+([.,][0-9]*)?$"
_SPACES = "[ \u00a0\u202f\u2009'\u2019]"
_PARTS = r"^(?P<whole>[0-9]*)(?:\.(?P<frac>[0-9]*))?$"


def parse_amounts(text: pa.Array, plain: bool = False) -> tuple[pa.Array, pa.Array]:
    """(amounts as ``decimal128(18, 2)``, reasons): for each value its amount, or null with
    the reason it is set aside (:data:`REASONS`); empty values are null with no reason."""
    text = text.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    empty = pc.equal(trimmed, "")
    fast = pc.match_substring_regex(trimmed, _FAST)
    if pc.all(pc.or_(fast, empty)).as_py():
        return _cast(pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)), \
            pa.nulls(len(text), pa.string())  # fmt: skip
    # The slow way, only for the values the fast pattern did not take.
    slow = pc.invert(pc.or_(fast, empty))
    values, reasons = _slow(trimmed.filter(slow), plain)
    amounts = pc.replace_with_mask(
        _cast(pc.if_else(pc.or_(empty, slow), pa.scalar(None, pa.string()), trimmed)),
        slow, values)  # fmt: skip
    why = pc.replace_with_mask(pa.nulls(len(text), pa.string()), slow, reasons)
    return amounts, why


def _cast(text: pa.Array) -> pa.Array:
    """Text already of the shape ``[+]digits[.digits]`` within the contract's precision (an
    exact cast: Arrow refuses to lose a digit)."""
    return pc.replace_substring_regex(text, _SIGN, "").cast(AMOUNT)


def _slow(text: pa.Array, plain: bool) -> tuple[pa.Array, pa.Array]:
    none = pa.scalar(None, pa.string())
    reason = pc.if_else(pc.match_substring_regex(text, _NEGATIVE), NOT_AN_AMOUNT, none)
    text = pc.replace_substring_regex(text, _SIGN, "")
    if plain:
        canonical = pc.if_else(pc.match_substring_regex(text, _PLAIN), text, none)
    else:
        ambiguous = pc.match_substring_regex(text, _AMBIGUOUS)
        reason = pc.coalesce(reason, pc.if_else(ambiguous, AMBIGUOUS, none))
        one_mark = pc.match_substring_regex(text, _ONE_MARK)
        comma_groups = pc.match_substring_regex(text, _COMMA_GROUPS)
        dot_groups = pc.match_substring_regex(text, _DOT_GROUPS)
        space_groups = pc.match_substring_regex(text, _SPACE_GROUPS)
        # Each shape rewritten to digits with a "." decimal point.
        decimal_comma = pc.replace_substring(text, ",", ".")
        canonical = pc.case_when(
            pc.make_struct(one_mark, comma_groups, dot_groups, space_groups),
            decimal_comma,
            pc.replace_substring(text, ",", ""),
            pc.replace_substring(pc.replace_substring(text, ".", ""), ",", "."),
            pc.replace_substring(pc.replace_substring_regex(text, _SPACES, ""), ",", "."),
        )  # fmt: skip
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(canonical), NOT_AN_AMOUNT, none))
    parts = pc.extract_regex(pc.fill_null(canonical, ""), _PARTS)
    whole = pc.utf8_ltrim(pc.struct_field(parts, "whole"), "0")
    frac = pc.struct_field(parts, "frac")
    # Digits past the second decimal place may only be zeros (1.230 is 1.23; 0.005 is not).
    exact = pc.match_substring_regex(frac, r"^[0-9]{0,2}0*$")
    reason = pc.coalesce(reason, pc.if_else(pc.fill_null(exact, True), none, TOO_PRECISE))
    large = pc.greater(pc.utf8_length(whole), 16)
    reason = pc.coalesce(reason, pc.if_else(pc.fill_null(large, False), TOO_LARGE, none))
    # No digit at all (".", "") is no amount either.
    digitless = pc.invert(pc.match_substring_regex(pc.fill_null(canonical, ""), "[0-9]"))
    digitless = pc.and_(digitless, pc.is_null(reason))
    reason = pc.if_else(pc.fill_null(digitless, False), NOT_AN_AMOUNT, reason)
    good = pc.is_null(reason)
    number = pc.binary_join_element_wise(
        pc.if_else(pc.equal(whole, ""), "0", whole),
        pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=2, padding="0"), 0, 2), ".")
    return _cast(pc.if_else(good, number, none)), reason


#: The DuckDB functions :func:`amount_sql` calls for the values its cast does not take.
_SQL_FUNCTIONS = {False: "scamtrace_amount", True: "scamtrace_plain_amount"}
_SQL_TYPE = f"DECIMAL({AMOUNT.precision}, {AMOUNT.scale})"


def plain_columns(schema: pa.Schema) -> list[str]:
    """The columns of a typed file (Parquet) whose amounts are ``plain``: numbers typed as
    such are written with a ``.`` decimal point, never a thousands separator."""
    return [f.name for f in schema if pa.types.is_decimal(f.type)
            or pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]  # fmt: skip


def amount_sql(text: str, plain: bool = False) -> str:
    """DuckDB SQL for the amount of ``text`` (SQL for the value, trimmed) as the contract's
    decimal, NULL where it is empty or set aside (:func:`parse_amounts`; ``plain`` as there).
    The connection needs :func:`register_amount_sql` first."""
    return (f"CASE WHEN regexp_matches({text}, '{_FAST}') "
            f"THEN CAST(ltrim({text}, '+') AS {_SQL_TYPE}) "
            f"WHEN {text} IS NOT NULL THEN {_SQL_FUNCTIONS[plain]}({text}) END")


def register_amount_sql(db: duckdb.DuckDBPyConnection) -> None:
    """Give ``db`` the functions :func:`amount_sql` calls (once per connection)."""
    have = {str(r[0]) for r in db.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'scamtrace_%'"
    ).fetchall()}  # fmt: skip
    for plain, name in _SQL_FUNCTIONS.items():
        if name not in have:
            db.create_function(name, _amounts_only(plain), [VARCHAR],
                               duckdb.sqltype(_SQL_TYPE), type="arrow",
                               null_handling="special", side_effects=False)  # fmt: skip


def _amounts_only(plain: bool) -> Callable[[pa.ChunkedArray], pa.Array]:
    def amounts(text: pa.ChunkedArray) -> pa.Array:
        return parse_amounts(text.combine_chunks(), plain)[0]

    return amounts
