"""Spreadsheet formula injection: CSV cells that a spreadsheet would run, made inert.

Every CSV scamtrace writes may be opened in Excel or LibreOffice by an analyst, and many of its
values come from the other side (a caller ID, a SIP account name, a bank reference, a line of a
rejected file). A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read as a formula (OWASP, "CSV injection"); ``=HYPERLINK(...)`` or a DDE call then runs on the
analyst's machine.

The rule, one for the whole project:

- a value that starts with one of those characters, after any number of ``'``, gets one more
  ``'`` in front: Excel and LibreOffice show a leading ``'`` cell as the text that follows it;
- a plain number (``+34612345678``, ``-12.50``: an optional sign, digits, an optional decimal
  part) is left as it is: a spreadsheet can only read it as that number, and E.164 numbers and
  amounts must stay what the contract says;
- readers take one ``'`` off a value that starts with ``'`` and then a trigger
  (:func:`restore`), so writing and reading give back the value exactly.

The same rule is given as plain Python, as an Arrow kernel (for tables of millions of rows) and
as a DuckDB expression (for findings copied straight from SQL); a test holds the three equal.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

#: Characters that make a spreadsheet read a cell as a formula (OWASP's list).
TRIGGERS = "=+-@\t\r"

_NEEDS = r"^'*[=+\-@\t\r]"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_ESCAPED = r"^'+[=+\-@\t\r]"

_needs = re.compile(_NEEDS)
_number = re.compile(_NUMBER)
_escaped = re.compile(_ESCAPED)


def neutral(value: str) -> str:
    """``value`` as a cell no spreadsheet runs."""
    if _needs.match(value) and not _number.match(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The value :func:`neutral` was given."""
    return value[1:] if _escaped.match(value) else value


def neutral_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`neutral` on every string of an Arrow array (nulls stay null)."""
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return values
    hit = pc.and_not(pc.match_substring_regex(values, _NEEDS),
                     pc.match_substring_regex(values, _NUMBER))  # fmt: skip
    if not pc.any(hit).as_py():
        return values
    return pc.if_else(hit, pc.binary_join_element_wise("'", values, ""), values)


def restore_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`restore` on every string of an Arrow array."""
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return values
    hit = pc.match_substring_regex(values, _ESCAPED)
    if not pc.any(hit).as_py():
        return values
    return pc.if_else(hit, pc.utf8_slice_codeunits(values, 1), values)


def neutral_table(table: pa.Table) -> pa.Table:
    """Every string column of ``table`` made safe for a spreadsheet."""
    columns = [neutral_array(table.column(i)) for i in range(table.num_columns)]
    return pa.table(columns, names=table.column_names)


def restore_table(table: pa.Table) -> pa.Table:
    """Every string column of ``table`` as it was before :func:`neutral_table`."""
    columns = [restore_array(table.column(i)) for i in range(table.num_columns)]
    return pa.table(columns, names=table.column_names)


def neutral_sql(expression: str) -> str:
    """A DuckDB expression for ``expression`` (text) made safe for a spreadsheet."""
    needs, number = _NEEDS.replace("'", "''"), _NUMBER.replace("'", "''")
    return (f"CASE WHEN regexp_matches({expression}, '{needs}') "
            f"AND NOT regexp_matches({expression}, '{number}') "
            f"THEN '''' || {expression} ELSE {expression} END")  # fmt: skip


def restore_sql(expression: str) -> str:
    """A DuckDB expression for ``expression`` (text) as it was before :func:`neutral_sql`."""
    escaped = _ESCAPED.replace("'", "''")
    return (f"CASE WHEN regexp_matches({expression}, '{escaped}') "
            f"THEN substr({expression}, 2) ELSE {expression} END")  # fmt: skip
