"""The spreadsheet formula rule: plain Python, Arrow and DuckDB agree, and reading undoes
writing."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from scamtrace.core.formulas import (
    neutral,
    neutral_array,
    neutral_sql,
    neutral_table,
    restore,
    restore_array,
    restore_sql,
    restore_table,
)

# Values built mostly from the characters that matter, so the edge cases come up often.
cells = st.text(alphabet=st.sampled_from("'=+-@\t\r0123456789.aZ |!\"é"), max_size=8) | st.text()


def test_formulas_are_made_inert_and_numbers_are_left_alone() -> None:
    assert neutral("=HYPERLINK(\"http://x\",\"y\")") == "'=HYPERLINK(\"http://x\",\"y\")"
    assert neutral("@SUM(A1)") == "'@SUM(A1)"
    assert neutral("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert neutral("-2+3") == "'-2+3"
    assert neutral("\t=1") == "'\t=1"
    assert neutral("'=1") == "''=1"
    assert neutral("+34612345678") == "+34612345678"
    assert neutral("-12.50") == "-12.50"
    assert neutral("ES9121000418450200051332") == "ES9121000418450200051332"
    assert neutral("'quoted") == "'quoted"


@given(cells)
def test_restore_undoes_neutral(value: str) -> None:
    assert restore(neutral(value)) == value


@given(cells)
def test_a_neutral_cell_never_starts_a_formula(value: str) -> None:
    cell = neutral(value)
    if cell and cell[0] in "=+-@\t\r":
        assert cell.lstrip("+-")[:1].isdigit()


@given(st.lists(st.one_of(st.none(), cells), max_size=20))
def test_arrow_and_duckdb_follow_the_python_rule(values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    expected = [None if v is None else neutral(v) for v in values]
    assert neutral_array(array).to_pylist() == expected
    assert restore_array(neutral_array(array)).to_pylist() == values
    db = duckdb.connect()
    db.register("cells", pa.table({"v": array, "i": pa.array(range(len(values)))}))
    rows = db.execute(f"SELECT {neutral_sql('v')} FROM cells ORDER BY i").fetchall()
    assert [r[0] for r in rows] == expected
    back = db.execute(f"SELECT {restore_sql(neutral_sql('v'))} FROM cells ORDER BY i").fetchall()
    assert [r[0] for r in back] == values


def test_tables_keep_their_other_columns() -> None:
    table = pa.table({"text": ["=1", "ok"], "n": [1, 2]})
    safe = neutral_table(table)
    assert safe.column("text").to_pylist() == ["'=1", "ok"]
    assert safe.column("n").to_pylist() == [1, 2]
    assert restore_table(safe).equals(table)
