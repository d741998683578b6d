"""The service's wire types: requests, decisions and events, decoded and validated by msgspec.

These structs are the one boundary of the scoring service. The HTTP layer decodes bodies into
them (a bad body is a 4xx naming the field, never a 500); the engine takes and returns nothing
else. Field names follow ``../shared/CONTRACT.md`` wherever the contract has the same thing, so a
row of a case table and an event of the stream read alike.

Numbers arrive as the switch or bank wrote them (E.164, ``00``, national, bare international
digits); the engine normalises them with :mod:`scamtrace.core.phones`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]
PositiveAmount = Annotated[float, msgspec.Meta(gt=0, le=1e12)]
Score = Annotated[float, msgspec.Meta(ge=0, le=1)]

CallAction = Literal["allow", "warn", "block"]
TransferAction = Literal["allow", "warn", "hold"]


class _Wire(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Unknown fields are refused: a misspelt field must not be silently ignored."""


class CallScoreRequest(_Wire):
    """One call at setup, as the terminating carrier sees it."""

    call_id: NonEmpty
    time: datetime
    caller_number: Annotated[str, msgspec.Meta(max_length=64)]
    called_number: NonEmpty
    ingress_trunk: str | None = None
    ingress_country: Country | None = None
    attestation: Literal["A", "B", "C", ""] | None = None
    identity: Annotated[str, msgspec.Meta(max_length=8192)] | None = None
    #: Where the originating VoIP provider screens its own customers' calls: the SIP account
    #: that authenticated and the address its INVITE came from (absent at a terminating
    #: carrier, which sees neither).
    sip_account: NonEmpty | None = None
    source_ip: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class TransferScoreRequest(_Wire):
    """One payment before it executes."""

    tx_id: NonEmpty
    time: datetime
    payer_account: NonEmpty
    payee_account: NonEmpty
    amount: PositiveAmount
    currency: Currency
    channel: str | None = None
    payer_phone: str | None = None


class CallDecision(msgspec.Struct, omit_defaults=True):
    call_id: str
    action: CallAction
    score: Score
    reasons: list[str]
    network_id: str | None = None


class TransferDecision(msgspec.Struct, omit_defaults=True):
    tx_id: str
    action: TransferAction
    score: Score
    reasons: list[str]
    network_id: str | None = None


class CarrierCallEvent(_Wire, tag="carrier_cdr", tag_field="table"):
    """A row of ``carrier_cdr``: a call delivered (or attempted) to a subscriber."""

    call_id: NonEmpty
    start_time: datetime
    caller_number: Annotated[str, msgspec.Meta(max_length=64)]
    called_number: NonEmpty
    duration_s: Annotated[int, msgspec.Meta(ge=0)] = 0
    answered: bool = False
    ingress_trunk: str | None = None
    ingress_country: Country | None = None
    attestation: Literal["A", "B", "C", ""] | None = None


class VoipCallEvent(_Wire, tag="voip_cdr", tag_field="table"):
    """A row of ``voip_cdr``: a call a SIP customer placed."""

    call_id: NonEmpty
    start_time: datetime
    sip_account: NonEmpty
    source_ip: str
    from_number: Annotated[str, msgspec.Meta(max_length=64)]
    to_number: NonEmpty
    user_agent: str | None = None
    duration_s: Annotated[int, msgspec.Meta(ge=0)] = 0
    sip_status: Annotated[int, msgspec.Meta(ge=100, le=699)] | None = None


class TransferEvent(_Wire, tag="transfers", tag_field="table"):
    """A row of ``transfers``: a payment that executed."""

    tx_id: NonEmpty
    time: datetime
    amount: PositiveAmount
    currency: Currency
    payer_account: str | None = None
    payee_account: str | None = None
    channel: str | None = None


class ComplaintEvent(_Wire, tag="reports", tag_field="table"):
    """A row of ``reports``: a complaint filed with the police; a label as it arrives."""

    report_id: NonEmpty
    filed_at: datetime
    victim_phone: str | None = None
    reported_numbers: list[str] = []
    reported_accounts: list[str] = []
    amount_lost: Annotated[float, msgspec.Meta(ge=0)] | None = None
    currency: Currency | None = None
    language: str | None = None
    narrative: Annotated[str, msgspec.Meta(max_length=65536)] | None = None


Event = CarrierCallEvent | VoipCallEvent | TransferEvent | ComplaintEvent


class EntityView(msgspec.Struct, omit_defaults=True):
    """What the service knows of one number, account, line or address."""

    kind: str
    value: str
    score: float
    flagged: bool
    reasons: list[str]
    network_id: str | None = None
    center_id: str | None = None
    recent: dict[str, float] = {}
