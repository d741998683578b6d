"""What the exporters share: a findings folder loaded for export, the indicators it holds, what
of it is personal data, and the checks every export makes.

The exporters (STIX, MISP, FollowTheMoney) and the case package all start from the folder that
``scamtrace detect`` writes, read through :mod:`scamtrace.core.findings`. Rows are kept as the
exact strings of the CSV files so that an export followed by an import gives back the same rows.

What counts as personal data (PII) here, and is exported only on an explicit ``reveal``:
- the victims' phone numbers (``victim_phone``, ``victim_paid`` entities),
- the victims' own bank accounts (the payer of a ``victim_payment`` transfer),
- account holders (``holder_id``, ``holder_phone`` of the case's ``accounts`` table),
- the records behind the findings (``evidence.csv``: its details name the callees).
The gang's infrastructure is not: presented caller numbers, SIP accounts, source IPs and mule
accounts are the indicators other agencies, carriers and banks need to block and look up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scamtrace.core import contract
from scamtrace.core import findings as findings_folder
from scamtrace.core.errors import FindingsError

Row = dict[str, str]

#: Entity kinds that are the gang's infrastructure: shared as indicators.
INDICATOR_KINDS = ("caller_number", "sip_account", "source_ip", "mule_account")
#: Entity kinds that are victims: personal data, shared only on ``reveal``.
VICTIM_KINDS = ("victim_phone", "victim_paid")
TABLES = ("entities", "transfers", "centers", "networks")
#: The entity columns every export needs.
_ENTITY_KEYS = ("kind", "value", "score", "network_id", "center_id")
_CONTRACT_COLUMNS = {
    "entities": contract.FINDINGS_ENTITIES, "transfers": contract.FINDINGS_TRANSFERS,
    "centers": contract.FINDINGS_CENTERS, "networks": contract.FINDINGS_NETWORKS,
}  # fmt: skip
#: The TLP levels an export may be marked with (``clear`` is TLP 2.0's name for ``white``).
TLP_LEVELS = ("white", "clear", "green", "amber", "red")


@dataclass
class Findings:
    """The tables of one findings folder, rows as the CSV's strings."""

    entities: list[Row]
    transfers: list[Row]
    centers: list[Row]
    networks: list[Row]
    summary: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    folder: Path | None = None

    @classmethod
    def imported(cls, tables: dict[str, list[Row]], columns: dict[str, list[str]]) -> Findings:
        """Findings read back from an export (``stix-import``, ``misp-import``, ``ftm-import``):
        entities with the contract's columns and any others their rows carry, and every row
        given each column of its table (``""`` where the export held none)."""
        entity_columns = list(contract.FINDINGS_ENTITIES)
        entity_columns += sorted({k for r in tables["entities"] for k in r} - set(entity_columns))
        columns = {**columns, "entities": entity_columns}
        for table, rows in tables.items():
            for row in rows:
                for column in columns.get(table) or []:
                    row.setdefault(column, "")
        return cls(tables["entities"], [], tables["centers"], tables["networks"],
                   columns=columns)  # fmt: skip

    @property
    def victim_country(self) -> str:
        return str(self.summary.get("holder_country") or "")

    def indicators(self) -> list[Row]:
        return [r for r in self.entities if r["kind"] in INDICATOR_KINDS]

    def victims(self) -> list[Row]:
        return [r for r in self.entities if r["kind"] in VICTIM_KINDS]

    def victim_values(self) -> set[str]:
        """The victims' numbers: what no export made without ``reveal`` may name."""
        return {r["value"] for r in self.victims()}

    def shareable_entities(self, reveal: bool) -> list[Row]:
        """Entities that may leave the agency: indicators, and victims only on ``reveal``.

        Without ``reveal`` a presented number that is also a victim's own number (a victim's
        number spoofed by the gang) is left out too: it belongs to the victim."""
        if reveal:
            return self.entities
        victims = self.victim_values()
        return [r for r in self.indicators() if r["value"] not in victims]

    def victim_accounts(self) -> set[str]:
        """Accounts that paid a mule as victims: the victims' own accounts."""
        return {r.get("payer_account", "") for r in self.transfers
                if r.get("kind") == "victim_payment"} - {""}  # fmt: skip


def load_findings(folder: Path) -> Findings:
    """Read a findings folder written by ``scamtrace detect``."""
    entities = findings_folder.table_path(folder, "entities")
    if not entities.is_file():
        raise FindingsError(f"{folder}: not a findings folder (no {entities.name})")
    tables: dict[str, list[Row]] = {}
    columns: dict[str, list[str]] = {}
    for name in TABLES:
        columns[name], tables[name] = findings_folder.read_rows(folder, name)
    missing = [c for c in _ENTITY_KEYS if c not in columns["entities"]]
    if missing:
        raise FindingsError(f"{entities}: line 1: missing column {missing[0]!r}")
    summary = findings_folder.read_summary(folder)
    return Findings(tables["entities"], tables["transfers"], tables["centers"],
                    tables["networks"], summary, columns, folder)  # fmt: skip


def write_findings(findings: Findings, folder: Path) -> None:
    """Write the tables (and the summary) of ``findings`` as a findings folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        rows: list[Row] = getattr(findings, name)
        header = findings.columns.get(name) or _header(rows) or list(_CONTRACT_COLUMNS[name])
        # values from a partner's bundle: made inert; lines end as csv.DictWriter ended them
        findings_folder.write_rows(findings_folder.table_path(folder, name), header,
                                   ([r.get(h, "") for h in header] for r in rows),
                                   line_end="\r\n")  # fmt: skip
    if findings.summary:
        findings_folder.write_summary(folder, findings.summary)


def _header(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def check_tlp(level: str) -> str:
    """``level`` in lower case, if it is one of :data:`TLP_LEVELS`."""
    if level.lower() not in TLP_LEVELS:
        raise FindingsError(f"TLP level {level!r} unknown; use one of {', '.join(TLP_LEVELS)}")
    return level.lower()


def check_case_dir(case_dir: Path | None) -> None:
    """Refuse a case folder (for the banks and holders of accounts) that is not there."""
    if case_dir is not None and not case_dir.is_dir():
        raise FindingsError(f"{case_dir}: case folder not found")


def case_table(case_dir: Path, name: str) -> Path | None:
    """The file of table ``name`` in a case folder (Parquet or CSV), or None."""
    for suffix in (".parquet", ".csv"):
        path = case_dir / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def case_accounts(case_dir: Path | None, accounts: set[str]) -> dict[str, Row]:
    """The case's ``accounts`` rows (KYC) of ``accounts``, as strings, by account_id."""
    path = case_table(case_dir, "accounts") if case_dir else None
    if path is None or not accounts:
        return {}
    import polars as pl

    frame = pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(
        path, infer_schema=False)  # fmt: skip
    rows = (frame.filter(pl.col("account_id").cast(pl.String).is_in(sorted(accounts)))
            .with_columns(pl.all().cast(pl.String)).collect())  # fmt: skip
    return {r["account_id"]: {k: v or "" for k, v in r.items()} for r in rows.iter_rows(named=True)}


def victim_number_forms(values: list[str] | set[str]) -> set[str]:
    """Every written form of the victims' E.164 numbers a reader could match or hash: E.164,
    its digits, the national significant number, the national and the 00-international forms,
    with and without spaces."""
    import phonenumbers

    forms: set[str] = set()
    for value in values:
        digits = value.lstrip("+")
        forms |= {value, digits, "00" + digits}
        try:
            number = phonenumbers.parse(value)
        except phonenumbers.NumberParseException:
            continue
        national = phonenumbers.national_significant_number(number)
        forms |= {national, "0" + national}
        for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL,
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL):  # fmt: skip
            written = phonenumbers.format_number(number, fmt)
            forms |= {written, written.replace(" ", ""), written.replace(" ", "-")}
    return {f for f in forms if f}


_DIGIT_RUN = re.compile(r"\d{7,}")


def numbers_in_text(text: str) -> set[str]:
    """Runs of 7 or more digits in ``text`` (a phone or account number written anywhere)."""
    return set(_DIGIT_RUN.findall(text))


def victim_leaks(text: str, victims: set[str]) -> set[str]:
    """Victims' numbers (E.164 values of ``victims``) written in ``text`` in any digit form."""
    if not victims:
        return set()
    runs = numbers_in_text(text)
    by_digits = {v.lstrip("+"): v for v in victims}
    leaked = {by_digits[r] for r in runs if r in by_digits}
    leaked |= {by_digits[r[2:]] for r in runs if r.startswith("00") and r[2:] in by_digits}
    nationals = _nationals(victims)
    leaked |= {nationals[r.lstrip("0")] for r in runs if r.lstrip("0") in nationals}
    return leaked


def _nationals(victims: set[str]) -> dict[str, str]:
    import phonenumbers

    out: dict[str, str] = {}
    for value in victims:
        try:
            out[phonenumbers.national_significant_number(phonenumbers.parse(value))] = value
        except phonenumbers.NumberParseException:
            continue
    return out
