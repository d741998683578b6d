"""A SIP server logs an international number as bare digits (``8613800138000``) as often as
with ``+`` (CONTRACT.md: SIP-side tables). The same world with its ``voip_cdr`` written that way
reads the same numbers: read as national numbers of the provider's country, the caller IDs
would match nothing on the carrier's side and the whole chain would collapse silently. That
the findings are the same is tests/test_metamorphic.py's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scamtrace.enrich.case import open_case


def _bare(table: pa.Table, column: str) -> pa.Table:
    values = pc.replace_substring_regex(table[column], r"^\+", "")
    return table.set_column(table.schema.get_field_index(column), column, values)


def _view(small_case: Path, out: Path) -> Path:
    shutil.copytree(small_case, out, ignore=shutil.ignore_patterns("truth"))
    voip = pq.read_table(small_case / "voip_cdr.parquet")
    assert pc.any(pc.starts_with(voip["to_number"], "+")).as_py()  # the world writes E.164
    pq.write_table(_bare(_bare(voip, "from_number"), "to_number"), out / "voip_cdr.parquet")
    return out


def test_bare_digits_in_voip_cdr_are_read_as_international(small_case: Path,
                                                           tmp_path: Path) -> None:  # fmt: skip
    view = _view(small_case, tmp_path / "bare")
    numbers = {}
    for name, folder in (("plus", small_case), ("bare", view)):
        case = open_case(folder)
        numbers[name] = case.db.execute(
            "SELECT from_number, to_number FROM voip_cdr ORDER BY _line").fetchall()
        case.db.close()
    assert numbers["bare"] == numbers["plus"]
    assert any(str(to).startswith("86") for _, to in numbers["bare"])  # Chinese victims
