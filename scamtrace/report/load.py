"""Reading a findings folder into what the report needs.

The report reads six CSV tables and ``summary.json``; each has its one reader below, and
:func:`load_findings` reads them all. Nothing else in :mod:`scamtrace.report` opens a file of
the folder. A table is read with every column as text (``""`` for empty cells), holding exactly
the columns the report uses (absent ones filled with ``""``), values as ``detect`` found them
(without the leading ``'`` of :mod:`scamtrace.core.formulas`). A missing or broken file is not
an error: the report says what it could not read (:attr:`Findings.notes`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.report.format import plural

#: The findings tables the report shows (entities, the flagged transfers, the call centers, the
#: networks ranked the biggest first, the records behind each entity, the scripts), each with
#: every column the contract declares for it; absent ones read as "".
REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(contract.FINDINGS_TABLES[name].column_names)
    for name in ("entities", "transfers", "centers", "networks", "evidence", "scripts")
}
ENTITY_COLUMNS = REPORT_COLUMNS["entities"]
EVIDENCE_COLUMNS = REPORT_COLUMNS["evidence"]
SCRIPT_COLUMNS = REPORT_COLUMNS["scripts"]
SUMMARY_NAME = findings_folder.SUMMARY
REJECTED_NAME = findings_folder.table_file("rejected")
UNKNOWN_INPUTS = "the inputs used are not known."


@dataclass(frozen=True)
class TableRead:
    """One findings table as the report reads it."""

    table: pa.Table
    """Exactly the report's columns, all text; no rows when the file is absent or empty."""
    present: bool
    """Whether the file is in the folder."""
    malformed: int
    """Rows that could not be read and were skipped."""


@dataclass(frozen=True)
class SummaryRead:
    """``summary.json`` as the report reads it."""

    summary: dict[str, Any]
    """The object, or ``{}`` when it is absent or unreadable."""
    present: bool
    problem: str
    """Why it could not be used, as a sentence for the reader; ``""`` when it could."""


@dataclass(frozen=True)
class Findings:
    """Everything the report reads from one findings folder."""

    entities: TableRead
    transfers: TableRead
    centers: TableRead
    networks: TableRead
    evidence: TableRead
    scripts: TableRead
    summary: SummaryRead
    rejected_listed: bool
    """Whether ``rejected.csv`` (rows set aside, with the reason) is in the folder."""

    def tables(self) -> dict[str, TableRead]:
        """The tables by file name (without ``.csv``), in the order the report reads them."""
        return {name: getattr(self, name) for name in REPORT_COLUMNS}

    @property
    def present(self) -> dict[str, bool]:
        """Which files are in the folder: the tables, then ``"summary"``."""
        got = {name: read.present for name, read in self.tables().items()}
        got["summary"] = self.summary.present
        return got

    @property
    def notes(self) -> list[str]:
        """What could not be read, one sentence each: malformed rows per table, then the
        summary's problem."""
        notes = [
            f"{plural(read.malformed, 'malformed row')} of {findings_folder.table_file(name)} "
            "could not be read and are not in this report."
            for name, read in self.tables().items()
            if read.malformed
        ]
        if self.summary.problem:
            notes.append(self.summary.problem)
        return notes


def load_findings(folder: Path) -> Findings:
    """Read every file of ``folder`` the report uses."""
    return Findings(
        **{name: read_report_table(folder, name) for name in REPORT_COLUMNS},
        summary=read_summary(folder),
        rejected_listed=(folder / REJECTED_NAME).is_file(),
    )


def read_report_table(folder: Path, name: str) -> TableRead:
    """Findings table ``name`` (a key of :data:`REPORT_COLUMNS`) with the report's columns."""
    return _read_table(findings_folder.table_path(folder, name), REPORT_COLUMNS[name])


def read_summary(folder: Path) -> SummaryRead:
    """``summary.json``: the case, inputs used and missing, rows read, counts, timings."""
    path = folder / SUMMARY_NAME
    if not path.is_file():
        return SummaryRead(
            {}, False, "summary.json is missing: the inputs used and rows read are not known."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return SummaryRead({}, True, "summary.json could not be read: " + UNKNOWN_INPUTS)
    if not isinstance(data, dict):
        return SummaryRead({}, True, "summary.json is not an object: " + UNKNOWN_INPUTS)
    return SummaryRead(data, True, "")


def _read_table(path: Path, columns: Sequence[str]) -> TableRead:
    got = read_findings_csv(path, columns)
    if got is None:
        return TableRead(_empty(columns), False, 0)
    table, malformed = got
    return TableRead(table.select(list(columns)), True, malformed)


#: The report's reader: tolerant of broken rows, which it counts and reports.
read_findings_csv = findings_folder.read_forgiving


def _empty(columns: Sequence[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})
