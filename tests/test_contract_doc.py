"""The contract scamtrace implements (``contract.py``, ``docs/contract.md``) against the shared one.

The shared ``CONTRACT.md`` is the agreement with the data holders: every table and column it
names must exist in ``contract.py`` under the same name and type (the project may add, never
rename), and the committed ``docs/contract.md`` must be what ``contract_doc`` generates now.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scamtrace.core import contract
from scamtrace.core.contract_doc import KIND_WORDS, markdown

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "CONTRACT.md"

_HEADING = re.compile(r"^### (\w+) — ")
_ROW = re.compile(r"^\| (\w+) \| ([a-z ]+) \|")
_FILE_COLUMNS = re.compile(r"`(?:truth/)?(\w+)\.csv`: `([\w,]+)`")


def shared_input_tables(text: str) -> dict[str, dict[str, str]]:
    """Input tables of CONTRACT.md: table -> column -> type word, as its Markdown tables say."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if heading := _HEADING.match(line):
            current = tables.setdefault(heading.group(1), {})
        elif line.startswith("## "):
            current = None
        elif current is not None and (row := _ROW.match(line)) and row.group(1) != "column":
            current[row.group(1)] = row.group(2).strip()
    return tables


def shared_file_columns(text: str, section: str) -> dict[str, tuple[str, ...]]:
    """``name.csv: a,b,c`` lines of one ``## section`` of CONTRACT.md."""
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): tuple(m.group(2).split(",")) for m in _FILE_COLUMNS.finditer(part)}


def test_committed_docs_are_what_the_code_generates() -> None:
    committed = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    assert committed == markdown(), (
        "docs/contract.md is stale: python -m scamtrace.core.contract_doc > docs/contract.md")


def test_the_parser_reads_a_contract_table() -> None:
    text = ("### calls — x\n\n| column | type | meaning |\n|---|---|---|\n"
            "| a | list of phone | m |\n")
    assert shared_input_tables(text) == {"calls": {"a": "list of phone"}}


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/CONTRACT.md is not beside the repo")
def test_every_shared_input_column_is_implemented_with_its_name_and_type() -> None:
    shared = shared_input_tables(SHARED.read_text(encoding="utf-8"))
    assert set(shared) == {"carrier_cdr", "voip_cdr", "accounts", "transfers", "reports",
                           "transcripts"}  # fmt: skip
    for name, columns in shared.items():
        table = contract.INPUT_TABLES[name]
        ours = {c.name: KIND_WORDS[c.kind] for c in table.columns}
        for column, kind in columns.items():
            assert column in ours, f"{name}.{column} is in CONTRACT.md but not in contract.py"
            assert ours[column] == kind, f"{name}.{column}: {kind} there, {ours[column]} here"


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/CONTRACT.md is not beside the repo")
def test_every_shared_truth_and_findings_column_is_implemented() -> None:
    text = SHARED.read_text(encoding="utf-8")
    truth = shared_file_columns(text, "Ground truth")
    assert truth == {"entities": contract.TRUTH_ENTITIES, "calls": contract.TRUTH_CALLS,
                     "transfers": contract.TRUTH_TRANSFERS}  # fmt: skip
    findings = shared_file_columns(text, "Findings folder")
    assert set(findings) == {"entities", "transfers", "centers", "networks"}
    for name, columns in findings.items():
        assert tuple(contract.FINDINGS_TABLES[name].required_names) == columns, name
    assert f"at least {contract.FLAG_THRESHOLD}" in text
    for kind in contract.TRUTH_ENTITY_KINDS:
        assert f"`{kind}`" in text
