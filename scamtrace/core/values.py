"""The typing rules of the contract's values, declared once: which words are true and false,
which times and dates are times and dates, which numbers are whole numbers and durations.

``ingest`` types every row by these rules (Arrow kernels where they give the same result, the
SQL below elsewhere) and ``enrich`` types a case folder's tables by the same SQL when ``detect``
opens it, so a value reads the same whichever stage reads it. Which columns must have a value
is the contract's (``Column.required``); amounts are :mod:`scamtrace.core.amounts`; phone numbers
:mod:`scamtrace.core.phones`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from scamtrace.core.contract import Column
from scamtrace.core.sql import literal

#: The words (after trimming spaces and lowering case) a flag is read as true or as false;
#: any other value is not a flag. An empty flag is false.
TRUE_WORDS = ("true", "1", "t", "yes", "y")
FALSE_WORDS = ("false", "0", "f", "no", "n", "")

#: Times are read from the epoch (excluded) to 2100 (UTC). A zero time, the epoch itself, is
#: what a switch or an export writes where it had no time (``0`` seconds): unknown, never a
#: time. Dates (``opened_on``) from 1900 to 2100.
TIME_FIRST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TIME_END = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
DATE_FIRST = dt.date(1900, 1, 1)
DATE_END = dt.date(2100, 1, 1)
#: The same bounds in microseconds since the epoch, as Arrow's timestamps hold them.
TIME_FIRST_US = int(TIME_FIRST.timestamp()) * 1_000_000
TIME_END_US = int(TIME_END.timestamp()) * 1_000_000

#: Integer columns that count seconds: never negative.
DURATIONS = frozenset({"duration_s"})

NOT_A_TIME = "not an ISO 8601 time"
ZERO_TIME = "a zero time (1970-01-01T00:00:00Z, the epoch): unknown, not a time"
TIME_OUT_OF_RANGE = f"a time outside {TIME_FIRST.year}-{TIME_END.year - 1}"
NOT_A_DATE = "not a date (YYYY-MM-DD)"
DATE_OUT_OF_RANGE = f"a date outside {DATE_FIRST.year}-{DATE_END.year - 1}"
NOT_A_WHOLE_NUMBER = "not a whole number"
NEGATIVE_DURATION = "a negative duration"
NOT_A_FLAG = "not true/false"

# A time or date must start as ISO 8601 does (DuckDB also reads 'epoch', 'infinity', years
# of five digits and dates followed by anything, none of which a log means as a time).
_TIME_SHAPE = r"^[0-9]{4}-[0-9]"
_DATE_SHAPE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$"

#: (SQL true when a non-empty value fails it, the reason), per check of a column, in order.
Checks = list[tuple[str, str]]

#: Column kinds these rules type in SQL.
SQL_TYPED = frozenset({"time", "date", "int", "bool"})


def words_sql(words: Iterable[str]) -> str:
    """``words`` as a SQL list for ``IN``: ``('true', '1', ...)``."""
    return "(" + ", ".join(literal(w) for w in words) + ")"


def lowered_sql(value: str) -> str:
    """SQL for the text a flag is read from: ``value`` (SQL for text) trimmed and lowered,
    ``''`` when NULL."""
    return f"lower(coalesce(trim({value}), ''))"


def typed_sql(col: Column, text: str, typed: str, low: str) -> tuple[str, Checks]:
    """(DuckDB SQL for the typed value, the checks of a non-empty value) of a column whose
    kind is in :data:`SQL_TYPED`.

    ``text``: the value trimmed, NULL when empty; ``typed``: SQL naming the typed value (a
    column computed from the first element, or that element itself); ``low``: the value's
    :func:`lowered_sql` (flags). Times come out as ``TIMESTAMPTZ`` (a
    time without an offset is UTC: the session's zone must be UTC), dates as ``DATE``,
    numbers as ``BIGINT``, flags as ``BOOLEAN``."""
    if col.kind == "time":
        value = f"CASE WHEN regexp_matches({text}, '{_TIME_SHAPE}') THEN " \
            f"TRY_CAST({text} AS TIMESTAMPTZ) END"  # fmt: skip
        first, end = f"TIMESTAMPTZ '{TIME_FIRST.isoformat()}'", \
            f"TIMESTAMPTZ '{TIME_END.isoformat()}'"  # fmt: skip
        return value, [(f"{typed} IS NULL", NOT_A_TIME), (f"{typed} = {first}", ZERO_TIME),
                       (f"{typed} < {first} OR {typed} >= {end}", TIME_OUT_OF_RANGE)]
    if col.kind == "date":
        value = f"CASE WHEN regexp_matches({text}, '{_DATE_SHAPE}') THEN " \
            f"TRY_CAST({text} AS DATE) END"  # fmt: skip
        first, end = f"DATE '{DATE_FIRST.isoformat()}'", f"DATE '{DATE_END.isoformat()}'"
        return value, [(f"{typed} IS NULL", NOT_A_DATE),
                       (f"{typed} < {first} OR {typed} >= {end}", DATE_OUT_OF_RANGE)]
    if col.kind == "int":
        # Plain integers cast straight; '12.0' and '1e3' go the exact decimal way.
        value = (f"coalesce(TRY_CAST({text} AS BIGINT), "
                 f"TRY_CAST(TRY_CAST({text} AS DECIMAL(38, 6)) AS BIGINT))")  # fmt: skip
        checks = [(f"{typed} IS NULL", NOT_A_WHOLE_NUMBER)]
        if col.name in DURATIONS:
            checks.append((f"{typed} < 0", NEGATIVE_DURATION))
        return value, checks
    if col.kind == "bool":
        true, false = words_sql(TRUE_WORDS), words_sql(FALSE_WORDS)
        return f"({low} IN {true})", [(f"NOT ({low} IN {true} OR {low} IN {false})", NOT_A_FLAG)]
    raise ValueError(f"{col.name}: a {col.kind} column is not typed by these rules")


def bad_sql(failures: Iterable[str], empty: str, required: bool) -> str:
    """SQL true where a value is missing though required (``empty``: SQL true when it is
    empty), or is not empty and one of ``failures`` (the conditions of its checks) holds."""
    failed = " OR ".join(f"({cond})" for cond in failures)
    parts = [f"({empty})"] if required else []
    if failed:
        parts.append(f"(NOT ({empty}) AND ({failed}))")
    return " OR ".join(parts) or "false"
