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
    "string", "phone", "phone_list", "list", "time", "date", "int", "float", "bool", "decimal",
    "text",
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
    "float": pa.float64(),
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
    def required_names(self) -> list[str]:
        """The columns that are not optional (for findings: those the shared contract names)."""
        return [c.name for c in self.columns if not c.optional]

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

#: Tables written by SIP servers: their phone columns are SIP user parts, where a switch logs
#: an international number as its bare digits (``8613800138000``) as often as with ``+``.
#: Such a value is international when it is a valid number after ``+`` and not a valid
#: national number of the table's holder (:func:`scamtrace.core.phones.international_user_parts`).
SIP_TABLES = frozenset({"voip_cdr"})

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

# Findings folder (what ``scamtrace detect`` writes, and what ``share`` adds to it). Columns the
# shared contract names come first and are required; the project's own columns are optional
# (a findings folder made by another tool, or by an older scamtrace, may lack them).


def _extra(name: str, kind: ColumnKind, meaning: str) -> Column:
    return Column(name, kind, meaning, optional=True)


FINDINGS_ENTITIES_TABLE = _t(
    "entities",
    "one row per flagged entity (score at least the flag threshold)",
    ("kind", "string", "an entity kind of truth/entities.csv"),
    ("value", "string", "normalised like truth/entities.csv (E.164 for numbers)"),
    ("score", "float", "0..1"),
    ("network_id", "string", "the project's network label (N1, N2...), empty when none"),
    ("center_id", "string", "the project's call-center label (C01, C02...), empty when none"),
    ("reason", "text", "one short human sentence"),
    _extra("evidence_count", "int", "the case's records the entity takes part in, all of them "
           "(evidence.csv lists the first): what a verdict records having seen"),
    _extra("evidence_last", "time", "the newest of those records"),
)
FINDINGS_LEADS_TABLE = _t(
    "leads",
    "entities scored just below the flag threshold: worth a look, not findings",
    *FINDINGS_ENTITIES_TABLE.columns,
)
FINDINGS_TRANSFERS_TABLE = _t(
    "transfers",
    "transfers judged to be fraud proceeds",
    ("tx_id", "string", "a tx_id of the case's transfers"),
    ("score", "float", "0..1"),
    ("network_id", "string", "the network the money went to, empty when none"),
    ("kind", "string", "victim_payment, layering or cash_out"),
    _extra("time", "time", "when the payment was made"),
    _extra("payer_account", "string", "empty for cash deposits"),
    _extra("payee_account", "string", "empty for cash withdrawals"),
    _extra("amount", "decimal", "positive"),
    _extra("currency", "string", "ISO 4217"),
    _extra("channel", "string", "mobile, online, branch, atm, international"),
    _extra("reason", "text", "why the transfer is a fraud proceed"),
)
FINDINGS_CENTERS_TABLE = _t(
    "centers",
    "call centers: the lines that dial together from one place",
    ("center_id", "string", "C01, C02..."),
    ("network_id", "string", "empty when none"),
    ("country", "string", "ISO 3166 alpha-2 of the source IPs, empty when unknown"),
    ("region", "string", "empty when unknown"),
    ("first_seen", "time", "first call"),
    ("last_seen", "time", "last call"),
    ("lines", "int", "dialling lines (SIP accounts)"),
    ("calls", "int", "calls placed"),
    ("victims", "int", "callees who answered"),
    _extra("sip_accounts", "int", "SIP accounts of the center"),
    _extra("source_ips", "int", "source IPs of the center"),
    _extra("asn", "string", "name of the network the source IPs belong to"),
)
FINDINGS_NETWORKS_TABLE = _t(
    "networks",
    "networks, ranked by victims who paid, loss and victims",
    ("network_id", "string", "N1, N2..."),
    ("centers", "int", "call centers"),
    ("lines", "int", "dialling lines"),
    ("victims", "int", "victims who answered"),
    ("victims_paid", "int", "victims who paid"),
    ("loss", "decimal", "what the victims paid"),
    ("currency", "string", "ISO 4217"),
    ("mule_accounts", "int", "mule accounts"),
    _extra("joined_by", "text", "the evidence that joined the network's centers (shared mule "
           "accounts, victims handed on between centers), empty for one center"),
)
FINDINGS_SCRIPTS_TABLE = _t(
    "scripts",
    "scam scripts: groups of transcripts that read the same script",
    _extra("script_id", "string", "S01, S02..."),
    _extra("network_id", "string", "empty when none"),
    _extra("scam_type", "string", "the scam the script plays"),
    _extra("calls", "int", "transcribed calls"),
    _extra("numbers", "int", "presented numbers"),
    _extra("sip_accounts", "int", "SIP accounts"),
    _extra("centers", "int", "call centers"),
    _extra("languages", "list", "BCP 47 languages"),
    _extra("first_seen", "time", "first call"),
    _extra("last_seen", "time", "last call"),
    _extra("example", "text", "a transcript of the group"),
    _extra("call_ids", "list", "the first calls of the group"),
)
FINDINGS_EVIDENCE_TABLE = _t(
    "evidence",
    "the records behind each flagged entity, the first ones of each kind in time order",
    _extra("kind", "string", "the entity's kind"),
    _extra("value", "string", "the entity's value"),
    _extra("source", "string", "carrier_cdr, voip_cdr, transfers, transcripts or reports"),
    _extra("record_id", "string", "call_id, tx_id or report_id of the record"),
    _extra("time", "time", "when the record happened"),
    _extra("detail", "text", "the record in words"),
)
FINDINGS_REJECTED_TABLE = _t(
    "rejected",
    "input rows set aside when the case was read",
    _extra("table", "string", "the input table"),
    _extra("file", "string", "the file it came from"),
    _extra("line", "int", "line of the file"),
    _extra("field", "string", "the field at fault"),
    _extra("value", "text", "the value at fault"),
    _extra("reason", "text", "why it was set aside"),
)
FINDINGS_EXCHANGE_LEADS_TABLE = _t(
    "exchange_leads",
    "numbers another agency's flagged lines called or presented that this one cannot name",
    _extra("kind", "string", "victim_phone or caller_number"),
    _extra("value", "string", "hmac: and the keyed hash of the number"),
    _extra("lines", "list", "the flagged lines"),
    _extra("calls", "int", "calls"),
    _extra("reason", "text", "one short human sentence"),
)
EXCHANGE_UNRESOLVED_TABLE = _t(
    "unresolved",
    "a merged case's exchange/unresolved.csv: hashed numbers of the answer not held here",
    _extra("hash", "string", "keyed hash of the number"),
    _extra("role", "string", "called or caller_id"),
    _extra("lines", "list", "the answering agency's lines"),
    _extra("calls", "int", "calls"),
    _extra("answered", "int", "answered calls"),
    _extra("first_seen", "time", "first call"),
    _extra("last_seen", "time", "last call"),
)

FINDINGS_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        FINDINGS_ENTITIES_TABLE, FINDINGS_LEADS_TABLE, FINDINGS_TRANSFERS_TABLE,
        FINDINGS_CENTERS_TABLE, FINDINGS_NETWORKS_TABLE, FINDINGS_SCRIPTS_TABLE,
        FINDINGS_EVIDENCE_TABLE, FINDINGS_REJECTED_TABLE, FINDINGS_EXCHANGE_LEADS_TABLE,
    )
}  # fmt: skip

# Analysts' decisions on flagged entities and leads, written by the workspace (``scamtrace app``)
# and read by ``scamtrace detect --verdicts`` as labels.
VERDICTS_TABLE = _t(
    "verdicts",
    "analysts' decisions on entities: detect reads them as labels on its next run",
    _extra("kind", "string", "the entity's kind, as in entities.csv"),
    _extra("value", "string", "the entity's value, as in entities.csv"),
    _extra("verdict", "string", "confirmed or rejected"),
    _extra("evidence_last", "time", "the newest evidence record seen when it was decided"),
    _extra("evidence_count", "int", "evidence records behind the entity when it was decided"),
    _extra("decided_at", "time", "when it was decided"),
    _extra("analyst", "string", "who decided"),
    _extra("note", "text", "why, in the analyst's words"),
)

# The columns the shared contract names, in its order.
FINDINGS_ENTITIES = tuple(FINDINGS_ENTITIES_TABLE.required_names)
FINDINGS_TRANSFERS = tuple(FINDINGS_TRANSFERS_TABLE.required_names)
FINDINGS_CENTERS = tuple(FINDINGS_CENTERS_TABLE.required_names)
FINDINGS_NETWORKS = tuple(FINDINGS_NETWORKS_TABLE.required_names)
FLAG_THRESHOLD = 0.5
