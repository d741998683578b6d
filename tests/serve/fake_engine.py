"""A small deterministic engine for the service's tests (the real one is scamtrace.serve.engine).

It learns from events the way the real one must, in miniature: a number or account named in a
complaint is flagged; a caller number seen in ``CALLS_TO_WARN`` carrier records is warned on.
Every event it applies is counted per caller, so an event applied twice shows in the entity view.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scamtrace.serve.model import (
    CallDecision,
    CallScoreRequest,
    CarrierCallEvent,
    ComplaintEvent,
    EntityView,
    Event,
    TransferDecision,
    TransferScoreRequest,
)

CALLS_TO_WARN = 3


class FakeEngine:
    def __init__(self) -> None:
        self.reported_numbers: set[str] = set()
        self.reported_accounts: set[str] = set()
        self.calls_by_caller: dict[str, int] = {}
        self.applied = 0

    @classmethod
    def start(
        cls, findings: Path | None = None, case: Path | None = None, settings: Any = None
    ) -> FakeEngine:
        return cls()

    def score_call(self, request: CallScoreRequest) -> CallDecision:
        caller = request.caller_number
        if caller in self.reported_numbers:
            return CallDecision(
                request.call_id, "block", 0.97, [f"the caller {caller} was named in a complaint"]
            )
        if self.calls_by_caller.get(caller, 0) >= CALLS_TO_WARN:
            return CallDecision(request.call_id, "warn", 0.6, ["the line dials many numbers"])
        return CallDecision(request.call_id, "allow", 0.01, [])

    def score_transfer(self, request: TransferScoreRequest) -> TransferDecision:
        if request.payee_account in self.reported_accounts:
            reason = f"the payee {request.payee_account} was named in a complaint"
            return TransferDecision(request.tx_id, "hold", 0.95, [reason])
        return TransferDecision(request.tx_id, "allow", 0.02, [])

    def apply(self, events: Sequence[Event]) -> int:
        for event in events:
            if isinstance(event, ComplaintEvent):
                self.reported_numbers.update(event.reported_numbers)
                self.reported_accounts.update(event.reported_accounts)
            elif isinstance(event, CarrierCallEvent):
                caller = event.caller_number
                self.calls_by_caller[caller] = self.calls_by_caller.get(caller, 0) + 1
        self.applied += len(events)
        return len(events)

    def entity(self, kind: str, value: str) -> EntityView | None:
        if kind == "number" and (value in self.reported_numbers or value in self.calls_by_caller):
            return EntityView(
                kind,
                value,
                score=0.97 if value in self.reported_numbers else 0.1,
                flagged=value in self.reported_numbers,
                reasons=[],
                recent={"calls": float(self.calls_by_caller.get(value, 0))},
            )
        if kind == "account" and value in self.reported_accounts:
            return EntityView(kind, value, score=0.95, flagged=True, reasons=[])
        return None

    def metrics(self) -> dict[str, float]:
        return {"events_applied": float(self.applied), "numbers": float(len(self.calls_by_caller))}
