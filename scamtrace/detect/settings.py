"""Every threshold and window of detection, typed, in one place, with why it has its value."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectSettings(BaseModel):
    """Defaults describe the behaviour of dialling operations and mule accounts in general,
    not of one simulated world; change them per case with ``--settings FILE.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_tolerance_s: int = Field(10, ge=0, description="carrier and VoIP start times of one call")
    fanout_min_callees: int = Field(8, ge=1, description="distinct callees for a dialling line")
    fanout_uniqueness: float = Field(
        0.85, gt=0, le=1, description="callees per call: lists are dialled once per number"
    )
    rotation_min_ids: int = Field(3, ge=2, description="caller IDs one SIP account presents")
    rotation_ids_per_callee: float = Field(
        0.005, ge=0, description="presented IDs per callee that marks rotation, not one line"
    )
    family_max_callees: int = Field(12, ge=1, description="a household's circle abroad")
    short_call_s: int = Field(240, ge=1, description="answered scam openers are short")
    payment_window_days: float = Field(10, gt=0, description="scam call to payment")
    pass_through_hours: float = Field(72, gt=0, description="mules forward within days")
    pass_through_share: float = Field(0.6, gt=0, le=1, description="share of inflow forwarded")
    mule_victim_share: float = Field(0.4, gt=0, le=1, description="payers who are victims")
    fresh_account_days: int = Field(365, ge=1, description="accounts opened for the operation")
    follow_layers: int = Field(4, ge=1, description="layers of money to follow after the first")
    evidence_per_entity: int = Field(20, ge=1, description="records kept behind each finding")
    report_alone_score: float = Field(0.45, ge=0, le=1, description="one report, no behaviour")
