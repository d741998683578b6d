"""Victims' complaints to the police: incomplete, sometimes wrong, in the victims' language.

A share of paying victims file a report days after their last payment, remembering some of the
numbers that called them and some of the accounts they paid, now and then with a wrong digit.
A few people who were hooked but did not pay report too, and some reports name an honest
number (a pushy telemarketer, a foreign call center) by mistake. The rows form the contract's
``reports`` table (``contract.COMPLAINTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from scamtrace.core import contract
from scamtrace.simulate.banking import TransferKind
from scamtrace.simulate.calls import Category, Stage
from scamtrace.simulate.config import ComplaintConfig
from scamtrace.simulate.context import DAY
from scamtrace.simulate.numbering import CountryPlan
from scamtrace.simulate.render import GROUPED, NATIONAL, phone_text
from scamtrace.simulate.text import LANGUAGES, NarrativeDetails, render_narratives

if TYPE_CHECKING:
    from scamtrace.simulate.world import World

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Config:
    knobs: ComplaintConfig
    plans: tuple[CountryPlan, ...]
    currency: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.knobs, name)


def _typo(text: str, rng: np.random.Generator) -> str:
    """Change one of the last digits, as a victim misremembering a number does."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit()][-8:]
    if not positions:
        return text
    i = positions[int(rng.integers(len(positions)))]
    return text[:i] + str((int(text[i]) + int(rng.integers(1, 10))) % 10) + text[i + 1 :]


def victim_complaints(world: World, account_ids: pa.Array, tcols: dict[str, Any]) -> pa.Table:
    ctx = world.ctx
    plans = (ctx.victim, ctx.centers)
    cfg = _Config(ctx.scenario.reports, plans, ctx.victim.currency)
    rng = ctx.rng("reports")
    language = ctx.victim.language if ctx.victim.language in LANGUAGES else "en"
    ids = np.asarray(account_ids.to_pylist(), dtype=object)

    pay = np.flatnonzero(tcols["kind"] == int(TransferKind.VICTIM_PAYMENT))
    victims, inv = np.unique(tcols["victim_phone"][pay], return_inverse=True)
    total = np.bincount(inv, weights=tcols["amount"][pay]) / 100
    last = np.zeros(len(victims), np.int64)
    np.maximum.at(last, inv, tcols["time"][pay])

    calls = world.calls
    stage_calls = (calls.category == int(Category.SCAM)) & calls.answered
    stage_calls &= calls.stage >= int(Stage.NEIGHBOR)
    order = np.argsort(calls.callee[stage_calls], kind="stable")
    callee_sorted = calls.callee[stage_calls][order]
    shown_sorted = calls.caller_shown[stage_calls][order]
    stage_sorted = calls.stage[stage_calls][order]
    time_sorted = calls.time[stage_calls][order]

    def history(phone: int) -> tuple[I64, npt.NDArray[np.int8], I64]:
        lo, hi = np.searchsorted(callee_sorted, [phone, phone + 1])
        return shown_sorted[lo:hi], stage_sorted[lo:hi], time_sorted[lo:hi]

    rows: list[dict[str, Any]] = []
    reporting = np.flatnonzero(rng.random(len(victims)) < cfg.paid_report_rate)
    for v in reporting:  # a few thousand complaints at most: a plain loop is clear and cheap
        phone = int(victims[v])
        shown, stages, times = history(phone)
        paid_to = ids[np.unique(tcols["payee"][pay][inv == v])]
        rows.append(
            _complaint(
                rng,
                cfg,
                phone,
                shown,
                stages,
                times,
                paid_to,
                float(total[v]),
                int(last[v]) + int(rng.integers(1, 10)) * DAY,
            )
        )

    # Hooked but did not pay: some still report the calls.
    hooked = np.unique(callee_sorted[stage_sorted >= int(Stage.POLICE)])
    unpaid = np.setdiff1d(hooked, victims)
    for phone in unpaid[rng.random(len(unpaid)) < cfg.unpaid_report_rate * 10]:
        shown, stages, times = history(int(phone))
        rows.append(
            _complaint(
                rng,
                cfg,
                int(phone),
                shown,
                stages,
                times,
                np.zeros(0, object),
                0.0,
                int(times.max()) + int(rng.integers(1, 5)) * DAY,
            )
        )

    # Mistaken reports: an honest caller blamed.
    honest = (
        np.isin(calls.category, [int(Category.TELEMARKETER), int(Category.FOREIGN_CALL_CENTER)])
        & calls.to_carrier
    )
    n_wrong = round(len(rows) * cfg.wrong_reports_share)
    if honest.any() and n_wrong:
        pick = rng.choice(np.flatnonzero(honest), size=n_wrong)
        for i in pick:
            rows.append(
                _complaint(
                    rng,
                    cfg,
                    int(calls.callee[i]),
                    np.array([calls.caller_shown[i]]),
                    np.array([1], np.int8),
                    np.array([calls.time[i]]),
                    np.zeros(0, object),
                    0.0,
                    int(calls.time[i]) + int(rng.integers(1, 5)) * DAY,
                    wrong=True,
                )
            )

    rows.sort(key=lambda r: (r["filed_at"], r["victim"]))
    n = len(rows)
    details = [r["details"] for r in rows]
    narratives = render_narratives(details, language, ctx.scenario.seed)
    victim_style = np.where(rng.random(n) < 0.8, NATIONAL, GROUPED).astype(np.int8)
    amount = pa.array([f"{r['amount']:.2f}" for r in rows], pa.string())
    return pa.table({
        "report_id": pa.array([f"R{i + 1:07d}" for i in range(n)], pa.string()),
        "filed_at": pa.array([r["filed_at"] * 1_000_000 for r in rows], pa.int64())
        .cast(contract.TIME),
        "victim_phone": phone_text(np.array([r["victim"] for r in rows], np.int64),
                                   victim_style, ctx.victim, plans),
        "reported_numbers": pa.array([contract.LIST_SEPARATOR.join(r["details"].numbers)
                                      for r in rows], pa.string()),
        "reported_accounts": pa.array([contract.LIST_SEPARATOR.join(r["details"].accounts)
                                       for r in rows], pa.string()),
        "amount_lost": amount.cast(contract.AMOUNT),
        "currency": pa.array([ctx.victim.currency] * n, pa.string()),
        "language": pa.array([language] * n, pa.string()),
        "narrative": pa.array(narratives, pa.string()),
    })  # fmt: skip


def _complaint(
    rng: np.random.Generator,
    cfg: _Config,
    phone: int,
    shown: I64,
    stages: npt.NDArray[np.int8],
    times: I64,
    paid_to: npt.NDArray[np.object_],
    amount: float,
    filed_at: int,
    wrong: bool = False,
) -> dict[str, Any]:
    numbers: list[str] = []
    candidates = np.unique(shown[shown > 0])
    if len(candidates) and rng.random() < cfg.remember_number:
        k = min(len(candidates), int(rng.integers(1, 3)))
        for num in rng.choice(candidates, size=k, replace=False):
            numbers.append(_as_remembered(int(num), rng, cfg.plans))
    accounts: list[str] = []
    if len(paid_to) and rng.random() < cfg.remember_account:
        accounts = [str(a) for a in paid_to[: int(rng.integers(1, 3))]]
    numbers = [_typo(x, rng) if rng.random() < cfg.typo_rate else x for x in numbers]
    accounts = [_typo(x, rng) if rng.random() < cfg.typo_rate else x for x in accounts]
    if amount > 1000 and rng.random() < 0.3:
        amount = float(round(amount, -3))
    labels = [Stage(int(s)).label for s in np.unique(stages) if int(s) in (1, 2, 3)]
    span = max(1, int((times.max() - times.min()) // DAY) + 1) if len(times) else 1
    details = NarrativeDetails(
        amount=str(round(amount)), currency=cfg.currency, numbers=tuple(numbers),
        accounts=tuple(accounts), stages=tuple(labels), days=span,
    )  # fmt: skip
    return {"victim": phone, "filed_at": filed_at, "amount": amount, "details": details,
            "wrong": wrong}  # fmt: skip


def _as_remembered(number: int, rng: np.random.Generator, plans: tuple[CountryPlan, ...]) -> str:
    """The E.164 digits as a person writes them down: with + and country code, or nationally."""
    text = f"+{number}"
    if rng.random() < 0.5:
        return text
    for plan in plans:
        code = str(plan.calling_code)
        if text[1:].startswith(code):
            nsn = text[1 + len(code) :]
            mobile = nsn.startswith(tuple(b.prefix for b in plan.mobile))
            return (plan.mobile_trunk_prefix if mobile else plan.trunk_prefix) + nsn
    return text
