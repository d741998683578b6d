"""The data contract (``shared/CONTRACT.md``) as Arrow schemas: the one source of truth for columns.

Every table scamtrace reads or writes is declared here once, with the logical kind of each column
(``phone``, ``time``, ``decimal``...) so readers know how to parse and normalise it and writers
know how to store it. The project may add columns and tables; it never drops or renames these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

ColumnKind = Literal[
    "string", "phone", "phone_list", "list", "time", "date", "int", "bool", "decimal", "text"
]

TIME = pa.timestamp("us", tz="UTC")
AMOUNT = pa.decimal128(18, 2)
LIST_SEPARATOR = ";"

_ARROW: dict[ColumnKind, pa.DataType] = {
    "string": pa.string(),
    "phone": pa.string(),
    "phone_list": pa.string(),
    "list": pa.string(),
    "text": pa.string(),
    "time": TIME,
    "date": pa.date32(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "decimal": AMOUNT,
}


@dataclass(frozen=True)
class Column:
    """One column of a contract table. ``optional``: the file may lack the column altogether;
    ``required``: a row without a value here means nothing and is set aside (an id, a time,
    the dialled number, a payment's amount)."""

    name: str
    kind: ColumnKind
    meaning: str
    optional: bool = False
    required: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    meaning: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    @property
    def required(self) -> tuple[str, ...]:
        """The columns without whose value a row is set aside."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _t(name: str, meaning: str, *cols: tuple[str, ColumnKind, str] | Column) -> Table:
    columns = tuple(c if isinstance(c, Column) else Column(*c) for c in cols)
    return Table(name, columns, meaning)


def _required(name: str, kind: ColumnKind, meaning: str) -> Column:
    return Column(name, kind, meaning, required=True)


CARRIER_CDR = _t(
    "carrier_cdr",
    "the terminating carrier in the victims' country: one row per call delivered or attempted",
    _required("call_id", "string", "unique within the file"),
    _required("start_time", "time", "when the call was set up"),
    ("caller_number", "phone", "caller ID as presented (may be spoofed, may be empty)"),
    _required("called_number", "phone", "the subscriber"),
    ("duration_s", "int", "talk time, 0 when not answered"),
    ("answered", "bool", "true/false"),
    ("ingress_trunk", "string", "interconnect or gateway the call came in on"),
    ("ingress_country", "string", "ISO 3166 alpha-2 of the network the call came from"),
    Column("attestation", "string", "STIR/SHAKEN-style A, B, C or empty", optional=True),
)

VOIP_CDR = _t(
    "voip_cdr",
    "a VoIP provider in the country where the calls start: one row per call its customers placed",
    _required("call_id", "string", "unique within the file"),
    _required("start_time", "time", "INVITE time"),
    ("sip_account", "string", "the customer account that authenticated"),
    ("source_ip", "string", "IPv4 or IPv6 the INVITE came from"),
    ("user_agent", "string", "SIP User-Agent header"),
    ("from_number", "phone", "the caller ID the client asked for"),
    _required("to_number", "phone", "the number dialled"),
    ("duration_s", "int", "talk time"),
    ("sip_status", "int", "final SIP response"),
)

ACCOUNTS = _t(
    "accounts",
    "bank customer records (KYC)",
    _required("account_id", "string", "IBAN or domestic account / card number"),
    ("bank", "string", "bank name or code"),
    ("country", "string", "ISO 3166 alpha-2"),
    ("holder_id", "string", "pseudonymous customer id"),
    ("holder_phone", "phone", "the customer's phone on file"),
    ("opened_on", "date", "date the account was opened"),
    ("kind", "string", "personal or business"),
)

TRANSFERS = _t(
    "transfers",
    "payments between accounts",
    _required("tx_id", "string", "unique"),
    _required("time", "time", "when the payment was made"),
    ("payer_account", "string", "may be empty for cash deposits"),
    ("payee_account", "string", "may be empty for cash withdrawals"),
    _required("amount", "decimal", "positive"),
    ("currency", "string", "ISO 4217"),
    ("channel", "string", "mobile, online, branch, atm, international"),
)

# The contract names this table ``reports``; in code it is the victims' complaints, so it is
# never mistaken for the HTML report.
COMPLAINTS = _t(
    "reports",
    "complaints filed by victims with the police",
    _required("report_id", "string", "report identifier"),
    _required("filed_at", "time", "when the complaint was filed"),
    ("victim_phone", "phone", "the complainant's phone"),
    ("reported_numbers", "phone_list", "numbers the victim remembers being called from"),
    ("reported_accounts", "list", "accounts the victim paid into"),
    ("amount_lost", "decimal", "amount lost"),
    ("currency", "string", "ISO 4217"),
    ("language", "string", "BCP 47"),
    ("narrative", "text", "the victim's account in their own words"),
)

TRANSCRIPTS = _t(
    "transcripts",
    "text of calls, where lawfully held",
    _required("call_id", "string", "a call_id of carrier_cdr or voip_cdr"),
    ("source", "string", "carrier_cdr or voip_cdr"),
    ("language", "string", "BCP 47"),
    _required("text", "text", "transcript; turns may be prefixed caller: / callee:"),
)

INPUT_TABLES: dict[str, Table] = {
    t.name: t for t in (CARRIER_CDR, VOIP_CDR, ACCOUNTS, TRANSFERS, COMPLAINTS, TRANSCRIPTS)
}

# Ground truth of simulated worlds (``truth/``): plain CSV, every column a string.
TRUTH_ENTITY_KINDS = (
    "sip_account",
    "source_ip",
    "caller_number",
    "mule_account",
    "victim_phone",
    "victim_paid",
)
TRUTH_ENTITIES = ("kind", "value", "network_id", "center_id", "role")
TRUTH_CALLS = ("source", "call_id", "network_id", "center_id", "stage")
TRUTH_TRANSFERS = ("tx_id", "network_id", "kind")
TRUTH_TRANSFER_KINDS = ("victim_payment", "layering", "cash_out")
SCAM_STAGES = ("list_dial", "neighbor", "police", "official", "followup")

# Findings folder (what ``scamtrace detect`` writes).
FINDINGS_ENTITIES = ("kind", "value", "score", "network_id", "center_id", "reason")
FINDINGS_TRANSFERS = ("tx_id", "score", "network_id", "kind")
FINDINGS_CENTERS = (
    "center_id",
    "network_id",
    "country",
    "region",
    "first_seen",
    "last_seen",
    "lines",
    "calls",
    "victims",
)
FINDINGS_NETWORKS = (
    "network_id",
    "centers",
    "lines",
    "victims",
    "victims_paid",
    "loss",
    "currency",
    "mule_accounts",
)
FLAG_THRESHOLD = 0.5
