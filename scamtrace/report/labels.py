"""The words the report uses for entity kinds, evidence sources, inputs and networks."""

from __future__ import annotations

from scamtrace.core import contract

KIND_LABELS: dict[str, str] = {
    "sip_account": "SIP accounts (the VoIP accounts that placed the calls)",
    "source_ip": "Source IP addresses (where the calls were placed from)",
    "caller_number": "Caller numbers presented to victims (often spoofed)",
    "victim_phone": "Victims called (phone numbers)",
    "victim_paid": "Victims who paid (phone numbers)",
    "mule_account": "Mule accounts (bank accounts that received or moved the money)",
}
KIND_ORDER = tuple(KIND_LABELS)
"""The order kinds are listed in; kinds not named here follow, alphabetically."""
SOURCE_LABELS: dict[str, str] = {
    "carrier_cdr": "carrier call record",
    "voip_cdr": "VoIP call record",
    "transfers": "bank transfer",
    "reports": "police complaint",
}
INPUT_LABELS: dict[str, str] = {name: t.meaning for name, t in contract.INPUT_TABLES.items()}
TRANSFER_STEP_LABELS: dict[str, str] = {
    "victim_payment": "Victims paid mule accounts",
    "layering": "Mule accounts moved money on",
    "cash_out": "Money taken out (cash-out)",
}
ABSENT_TABLE_CONSEQUENCES: dict[str, str] = {
    "entities": "no flagged entities can be listed",
    "transfers": "the money flows cannot be shown",
    "centers": "the call centers cannot be shown",
    "networks": "the networks cannot be ranked",
    "evidence": "the records behind each entity cannot be shown",
}


def kind_label(kind: str) -> str:
    """What a kind of entity is, in words."""
    return KIND_LABELS.get(kind, kind or "(no kind)")


def source_label(source: str) -> str:
    """What an evidence source is, in words."""
    return SOURCE_LABELS.get(source, source)


def network_title(network_id: str) -> str:
    """The heading of a network's section ("" is the entities tied to no network)."""
    return f"Network {network_id}" if network_id else "Not linked to a network"


def absent_consequence(absent: list[str]) -> str:
    """What the report cannot show without the ``absent`` findings tables."""
    parts = [ABSENT_TABLE_CONSEQUENCES[a] for a in absent if a in ABSENT_TABLE_CONSEQUENCES]
    return ("Therefore " + "; ".join(parts) + ".") if parts else ""
