"""Every threshold and window of detection, typed, in one place, with why it has its value."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scamtrace.core.errors import ScamtraceError, first_problem


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
    heavy_rotation_ids: int = Field(
        10, ge=2, description="caller IDs that mark a dialler even without a long list"
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
    evidence_per_call_entity: int = Field(
        4, ge=1, description="records behind each presented number and victim (there are many)"
    )
    report_alone_score: float = Field(0.45, ge=0, le=1, description="one report, no behaviour")
    transcript_scam_score: float = Field(
        0.5, gt=0, lt=1, description="classifier score from which a transcript reads as a scam"
    )
    transcript_victim_score: float = Field(
        0.6, ge=0, le=1, description="subscriber heard on a scam call, no other behaviour"
    )
    reputation: bool = Field(True, description="score lines against the known fraud lines")
    reputation_min: float = Field(
        0.9, ge=0, le=1, description="reputation at which a line is like the known fraud lines"
    )
    reputation_floor: float = Field(
        0.3, ge=0, le=1, description="own behavioural score a line needs before reputation lifts it"
    )
    reputation_lift: float = Field(
        0.05, ge=0, le=0.2, description="corroboration, never enough to flag on its own"
    )


def load_settings(path: Path | None) -> DetectSettings:
    """Settings from a YAML mapping of field names to values; defaults where absent."""
    if path is None:
        return DetectSettings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScamtraceError(f"{path}: cannot read settings: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScamtraceError(f"{path}: settings are a YAML mapping of name: value")
    try:
        return DetectSettings.model_validate(raw)
    except ValidationError as exc:
        raise ScamtraceError(f"{path}: {first_problem(exc, 'settings')}") from exc
