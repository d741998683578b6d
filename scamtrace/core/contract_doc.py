"""The contract scamtrace implements, written out as Markdown from ``contract.py``.

``docs/contract.md`` is this module's output; a test regenerates it and checks it against the
committed file and against the shared ``CONTRACT.md``, so the docs, the code and the agreement
with the data holders cannot drift apart. Regenerate with::

    python -m scamtrace.core.contract_doc > docs/contract.md
"""

from __future__ import annotations

import argparse
import sys

from scamtrace.core import contract

#: How the shared CONTRACT.md writes each column kind.
KIND_WORDS: dict[contract.ColumnKind, str] = {
    "string": "string",
    "phone": "phone",
    "phone_list": "list of phone",
    "list": "list",
    "time": "time",
    "date": "date",
    "int": "integer",
    "float": "number",
    "bool": "bool",
    "decimal": "decimal",
    "text": "text",
}


def _table(table: contract.Table) -> list[str]:
    lines = [f"### {table.name} — {table.meaning}", "", "| column | type | meaning |",
             "|---|---|---|"]  # fmt: skip
    for column in table.columns:
        meaning = f"optional: {column.meaning}" if column.optional else column.meaning
        lines.append(f"| {column.name} | {KIND_WORDS[column.kind]} | {meaning} |")
    return [*lines, ""]


def _columns(names: tuple[str, ...]) -> str:
    return ",".join(names)


def markdown() -> str:
    """The whole contract as implemented, in the shared CONTRACT.md's words."""
    lines = [
        "# The data contract as scamtrace implements it",
        "",
        "Generated from `scamtrace/core/contract.py` by `python -m scamtrace.core.contract_doc`;",
        "do not edit by hand. The agreement with data holders is `../shared/CONTRACT.md`;",
        "`tests/test_contract_doc.py` checks that every table and column it names is here,",
        "under the same name and type. scamtrace may add columns and tables, never rename them.",
        "",
        "## Input tables (a case folder)",
        "",
        f"A table is `NAME.csv` or `NAME.parquet`; list cells are separated by "
        f"`{contract.LIST_SEPARATOR}`.",
        "",
    ]
    for table in contract.INPUT_TABLES.values():
        lines += _table(table)
    lines += [
        "## Ground truth (`truth/`, simulated worlds only)",
        "",
        f"- `truth/entities.csv`: `{_columns(contract.TRUTH_ENTITIES)}`; kinds: "
        + ", ".join(f"`{k}`" for k in contract.TRUTH_ENTITY_KINDS),
        f"- `truth/calls.csv`: `{_columns(contract.TRUTH_CALLS)}`; stages: "
        + ", ".join(f"`{s}`" for s in contract.SCAM_STAGES),
        f"- `truth/transfers.csv`: `{_columns(contract.TRUTH_TRANSFERS)}`; kinds: "
        + ", ".join(f"`{k}`" for k in contract.TRUTH_TRANSFER_KINDS),
        "",
        "## Findings folder (what `scamtrace detect` writes)",
        "",
        "Each table is `NAME.csv`; optional columns are scamtrace's own additions.",
        "",
    ]
    for table in contract.FINDINGS_TABLES.values():
        lines += _table(table)
    lines += [
        f"An entity is flagged when its score is at least {contract.FLAG_THRESHOLD}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scamtrace.core.contract_doc",
        description="Write the contract scamtrace implements, as Markdown, to standard output.",
        epilog="example: python -m scamtrace.core.contract_doc > docs/contract.md")
    parser.parse_args(argv)
    sys.stdout.write(markdown())


if __name__ == "__main__":
    main()
