"""Scenario configuration: every knob of a simulated world, typed, with documented defaults.

A scenario is a YAML file (the presets live in ``scenarios/``). ``scale`` multiplies the
population and the call volume; it never changes how many centers or networks exist, so a small
world has the same shape as a full one.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scamtrace.core.errors import ScenarioError, first_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationConfig(_Strict):
    """The subscribers of the victims' carrier and their everyday life."""

    subscribers: int = Field(1_500_000, gt=0, description="carrier subscribers at scale 1")
    block_density: float = Field(0.6, gt=0, le=1, description="share of numbers in use per block")
    contacts_mean: float = Field(8.0, gt=1, description="mean size of a subscriber's circle")
    calls_per_subscriber_day: float = Field(0.075, gt=0, description="normal calls received")
    answer_rate: float = Field(0.85, gt=0, le=1)
    offnet_share: float = Field(0.35, ge=0, lt=1, description="normal calls from other networks")
    bank_coverage: float = Field(0.4, gt=0, le=1, description="subscribers with a bank account")
    transfers_per_account_month: float = Field(1.5, ge=0)
    merchants_per_10k: float = Field(30.0, ge=0, description="shops receiving many payments")
    landlords_per_10k: float = Field(25.0, ge=0)
    employers_per_10k: float = Field(5.0, ge=0)
    new_account_payees_per_10k: float = Field(6.0, ge=0, description="honest fresh accounts")
    purchasing_agents_per_10k: float = Field(
        4.0, ge=0, description="personal accounts reselling goods: pay the supplier within hours"
    )


class CallerIdMix(_Strict):
    """How a center presents caller IDs: weights of the strategies (normalised)."""

    per_call_random: float = 0.5
    rotate_every_few: float = 0.3
    fixed_for_days: float = 0.2
    rotate_calls_mean: float = Field(8.0, ge=1)
    fixed_days_mean: float = Field(3.0, ge=1)
    foreign_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="lines presenting numbers of the centers' own country: what is left to a "
        "center calling from abroad once the victims' carrier blocks local caller IDs arriving "
        "on international trunks",
    )


class SimBoxConfig(_Strict):
    """GoIP-style SIM boxes in the victims' country that some of a network's centers feed over
    VoIP: calls leave on prepaid SIMs of the victims' country, swapped every few dozen calls."""

    share: float = Field(0.0, ge=0, le=1, description="share of the centers calling via SIM boxes")
    ports: tuple[int, int] = Field((8, 64), description="SIM slots of a center's gateway")
    calls_per_sim: tuple[int, int] = Field((20, 60), description="calls before a SIM is swapped")
    batch_sims: tuple[int, int] = Field((10, 40), description="SIMs of one prepaid batch")
    onnet_share: float = Field(0.6, ge=0, le=1, description="batches on the victims' carrier")
    callback_missed: float = Field(0.1, ge=0, le=1, description="missed calls called back")
    callback_answered: float = Field(0.03, ge=0, le=1, description="answered calls called back")


class NetworkConfig(_Strict):
    """One fraud network running the staged 'safe account' script."""

    name: str
    centers: int = Field(ge=1)
    regions: list[str] = Field(min_length=1)
    operators: tuple[int, int] = (10, 50)
    accounts_per_operators: float = Field(0.15, gt=0, description="SIP accounts per operator")
    ips_per_center: tuple[int, int] = (1, 3)
    ip_rotation_days: float = Field(0.0, ge=0, description="0: static IPs; else days per IP")
    attempts_per_operator_day: float = Field(40.0, gt=0)
    active_share: tuple[float, float] = (0.5, 1.0)
    caller_ids: CallerIdMix = CallerIdMix()
    leaked_list_share: float = Field(0.5, ge=0, le=1)
    offnet_target_share: float = Field(0.08, ge=0, lt=1, description="list numbers on other nets")
    cross_center_handoff: float = Field(0.3, ge=0, le=1)
    provider_coverage: float = Field(
        0.85, gt=0, le=1, description="a center's SIP accounts at the data holder (per account)"
    )
    mules_layer1_per_100_payers: float = Field(6.0, gt=0)
    mules_layer2: tuple[int, int] = (4, 12)
    cash_out_accounts: tuple[int, int] = (3, 8)
    sim_box: SimBoxConfig = SimBoxConfig()
    domestic: bool = Field(
        False,
        description="the centers work inside the victims' country, on local prepaid SIMs "
        "(handsets or gateways on site, set up as sim_box says): no VoIP leg anywhere, no "
        "foreign address, the country of their calls the victims' own",
    )


class FunnelConfig(_Strict):
    """How many people each stage of the script keeps."""

    answer_rate: float = Field(0.22, gt=0, le=1)
    engaged_share: float = Field(0.35, ge=0, le=1, description="answered and listened")
    to_police: float = Field(0.2, ge=0, le=1)
    to_official: float = Field(0.55, ge=0, le=1)
    pays: float = Field(0.75, ge=0, le=1, description="among those with an account on file")
    pays_again: float = Field(0.3, ge=0, le=1)
    payment_mean: float = Field(3800.0, gt=0, description="EUR, lognormal mean")
    payment_sigma: float = Field(0.9, gt=0)


class ConfounderConfig(_Strict):
    """The honest look-alikes that make naive rules fail."""

    diaspora_per_10k: float = Field(14.0, ge=0, description="emigrants calling home over VoIP")
    diaspora_own_number_share: float = Field(0.5, ge=0, le=1)
    foreign_call_centers: int = Field(4, ge=0)
    foreign_center_accounts: tuple[int, int] = (2, 10)
    foreign_center_calls_per_account_day: float = Field(60.0, ge=0)
    telemarketers: int = Field(12, ge=0)
    telemarketer_numbers: tuple[int, int] = (5, 40)
    telemarketer_calls_per_day: float = Field(250.0, ge=0)
    voip_locals_per_10k: float = Field(20.0, ge=0, description="provider's home customers")
    # Domestic look-alikes of SIM-box lines (none unless a preset asks for them).
    sales_teams_per_10k: float = Field(0.0, ge=0, description="teams dialling lists from mobiles")
    sales_team_lines: tuple[int, int] = (5, 30)
    sales_calls_per_line_day: float = Field(60.0, ge=0, description="per working day")
    sales_corporate_block_share: float = Field(0.5, ge=0, le=1, description="consecutive numbers")
    sales_new_team_share: float = Field(
        0.3, ge=0, le=1, description="teams set up in the case's last three weeks, on new lines"
    )
    roamers_per_10k: float = Field(0.0, ge=0, description="subscribers calling home from abroad")
    drivers_per_10k: float = Field(0.0, ge=0, description="couriers calling each customer once")
    driver_calls_per_day: float = Field(30.0, ge=0, description="per working day")
    wholesale_carriers: int = Field(2, ge=0, description="calling-card resellers at the provider")
    wholesale_accounts: tuple[int, int] = (1, 3)
    wholesale_customers_per_10k: float = Field(
        15.0, ge=0, description="each reseller's customers calling the victims' country"
    )
    wholesale_home_number_share: float = Field(
        0.6, ge=0, le=1, description="customers presenting the number they kept from home"
    )
    pbx_companies: int = Field(
        200, ge=0, description="firms whose PBX trunk at the provider calls the victims' country"
    )
    pbx_employees: tuple[int, int] = Field((3, 40), description="direct numbers per PBX")
    pbx_victim_country_dids: float = Field(
        0.3, ge=0, le=1, description="PBXs presenting a branch's DIDs of the victims' country"
    )
    pbx_calls_per_employee_day: float = Field(
        1.0, ge=0, description="calls to the victims' country per employee, at scale 1"
    )

    @model_validator(mode="after")
    def _check_pbx(self) -> ConfounderConfig:
        low, high = self.pbx_employees
        if not 1 <= low <= high < 100:
            raise ValueError("pbx_employees must be 1 <= low <= high < 100 (one block of DIDs)")
        if not 1 <= self.wholesale_accounts[0] <= self.wholesale_accounts[1]:
            raise ValueError("wholesale_accounts must be 1 <= low <= high")
        return self


class ComplaintConfig(_Strict):
    paid_report_rate: float = Field(0.3, ge=0, le=1)
    unpaid_report_rate: float = Field(0.01, ge=0, le=1)
    remember_number: float = Field(0.7, ge=0, le=1)
    remember_account: float = Field(0.6, ge=0, le=1)
    typo_rate: float = Field(0.05, ge=0, le=1)
    wrong_reports_share: float = Field(0.05, ge=0, le=1, description="honest number blamed")


class TranscriptConfig(_Strict):
    scam_calls: int = Field(12_000, ge=0, description="at scale 1")
    normal_calls: int = Field(12_000, ge=0)
    voip_share: float = Field(0.2, ge=0, le=1, description="transcripts keyed to voip_cdr")


#: The largest ``scale``: scale 1 is about 21 million carrier records and 6 GB of memory, so
#: scale 10 is already beyond one machine; larger values are typing mistakes.
MAX_SCALE = 10.0


class Scenario(_Strict):
    """A complete world description. Everything random is drawn from ``seed``."""

    name: str
    description: str = ""
    victim_country: str = "CN"
    center_country: str = "ES"
    start: dt.date = dt.date(2016, 7, 1)
    end: dt.date = dt.date(2016, 12, 13)
    seed: int = Field(0, ge=0)
    scale: float = Field(1.0, gt=0, le=MAX_SCALE, allow_inf_nan=False)
    naive_rule_f1_max: float | None = Field(
        0.5, description="preset promise: every naive rule stays under this F1 (None: no promise)"
    )
    population: PopulationConfig = PopulationConfig()
    networks: list[NetworkConfig] = Field(min_length=1)
    center_coverage: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of all centers whose lines are at the held VoIP provider; the others "
        "use providers the case lacks (no voip_cdr rows, still on the carrier's trunks and "
        "paying their network's mules). None: every center is (each account then at the "
        "provider with its network's provider_coverage)",
    )
    funnel: FunnelConfig = FunnelConfig()
    confounders: ConfounderConfig = ConfounderConfig()
    reports: ComplaintConfig = ComplaintConfig()
    transcripts: TranscriptConfig = TranscriptConfig()

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.end < self.start:
            raise ValueError("end is before start")
        if self.victim_country == self.center_country:
            raise ValueError("victim_country and center_country must differ")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def scaled(self, count: float) -> int:
        """A population count at this scenario's scale, never below one."""
        return max(1, round(count * self.scale))


def preset_names() -> list[str]:
    folder = resources.files("scamtrace.simulate") / "scenarios"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str, **overrides: Any) -> Scenario:
    """Load a preset by name (``seed``, ``small``, ``hard``...) or a YAML file by path.

    ``overrides`` replace top-level fields (``seed``, ``scale``, ``victim_country``...);
    ``None`` values are ignored so CLI options can be passed through unchanged.
    """
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise ScenarioError(f"{path}: scenario file not found")
        text = path.read_text(encoding="utf-8")
        origin = str(path)
    else:
        resource = resources.files("scamtrace.simulate") / "scenarios" / f"{name_or_path}.yaml"
        if not resource.is_file():
            known = ", ".join(preset_names())
            raise ScenarioError(f"unknown scenario {name_or_path!r}; presets: {known}")
        text = resource.read_text(encoding="utf-8")
        origin = f"preset {name_or_path}"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{origin}: a scenario is a YAML mapping")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: {first_problem(exc, 'scenario')}") from exc
