"""The victims' country: carrier subscribers, their circles, their everyday calls and money.

Subscribers hold numbers in blocks of 10,000 that the carrier owns (about ``block_density`` of
each block is in use), which is what makes sequential list dialling hit real people and dead
numbers in a realistic mix. Everyday calls follow each subscriber's circle of contacts, with
daily and weekly rhythms; everyday money is salaries, rent, shopping, family and cash.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.banking import AccountRole, Channel, Ledger
from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import DAY, HUMAN_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.numbering import random_nsn

I64 = npt.NDArray[np.int64]
BLOCK = 10_000
ONNET_TRUNK = "ONNET"
DOMESTIC_TRUNKS = ("IC-CT-01", "IC-CT-02", "IC-CU-01", "IC-CU-02", "IC-CU-03")


def per_10k(population: int, rate: float) -> int:
    """How many of something a population of this size has, at ``rate`` per 10,000 people."""
    return max(1, round(population * rate / 10_000))


class Population:
    """Subscribers (E.164, sorted), their contacts and their activity."""

    def __init__(self, ctx: WorldContext) -> None:
        cfg = ctx.scenario.population
        rng = ctx.rng("population")
        plan = ctx.victim
        target = ctx.scenario.scaled(cfg.subscribers)
        n_blocks = max(1, int(np.ceil(target / (BLOCK * cfg.block_density))))
        per_prefix = np.array(
            [10 ** (b.length - len(b.prefix) - 4) for b in plan.mobile], dtype=np.int64
        )
        choice = np.sort(rng.choice(per_prefix.sum(), size=n_blocks, replace=False))
        which = np.searchsorted(np.cumsum(per_prefix), choice, side="right")
        offset = choice - np.concatenate([[0], np.cumsum(per_prefix)])[which]
        bases = (
            np.array(
                [
                    int(plan.mobile[w].prefix)
                    * 10 ** (plan.mobile[w].length - len(plan.mobile[w].prefix))
                    for w in which
                ],
                dtype=np.int64,
            )
            + offset * BLOCK
        )
        self.block_bases: I64 = to_e164(plan.calling_code, bases)
        in_use = rng.random((n_blocks, BLOCK)) < cfg.block_density
        rows, cols = np.nonzero(in_use)
        numbers = self.block_bases[rows] + cols
        self.numbers: I64 = np.sort(numbers)
        n = len(self.numbers)
        self.activity = rng.lognormal(0.0, 1.0, size=n)
        self._activity_cdf = np.cumsum(self.activity) / self.activity.sum()

        # Contact circles (CSR): nearby subscribers (same block region: a community) and
        # numbers on other domestic networks, fixed for the whole period.
        k = 1 + rng.poisson(cfg.contacts_mean - 1, size=n)
        self.contact_ptr = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
        total = int(self.contact_ptr[-1])
        owner = np.repeat(np.arange(n, dtype=np.int64), k)
        offnet = rng.random(total) < cfg.offnet_share
        near = np.clip(owner + np.rint(rng.normal(0, 3000, total)).astype(np.int64), 0, n - 1)
        contacts = self.numbers[near]
        contacts[near == owner] = self.numbers[(owner[near == owner] + 1) % n]
        n_off = int(offnet.sum())
        contacts[offnet] = self.offnet_numbers(ctx, rng, n_off)
        self.contacts: I64 = contacts
        self.contact_offnet = offnet

    def __len__(self) -> int:
        return len(self.numbers)

    @staticmethod
    def offnet_numbers(ctx: WorldContext, rng: np.random.Generator, n: int) -> I64:
        """Numbers of other domestic networks: mostly mobiles, some landlines."""
        plan = ctx.victim
        land = rng.random(n) < 0.2
        nsn = random_nsn(list(plan.mobile), rng, n)
        nsn[land] = random_nsn(list(plan.landline), rng, int(land.sum()))
        return to_e164(plan.calling_code, nsn)

    def is_subscriber(self, numbers: I64) -> npt.NDArray[np.bool_]:
        pos = np.clip(np.searchsorted(self.numbers, numbers), 0, len(self.numbers) - 1)
        return np.asarray(self.numbers[pos] == numbers)

    def sample(self, rng: np.random.Generator, n: int, weighted: bool = True) -> I64:
        """Indices of ``n`` subscribers, by activity (who gets called) or uniformly."""
        if weighted:
            return np.searchsorted(self._activity_cdf, rng.random(n)).astype(np.int64)
        return rng.integers(0, len(self.numbers), size=n).astype(np.int64)

    def normal_calls(self, ctx: WorldContext, first_day: int, last_day: int) -> CallBatch:
        """Everyday calls received by subscribers on days ``[first_day, last_day)``."""
        cfg = ctx.scenario.population
        rng = ctx.rng(f"normal-calls-{first_day}")
        mean = len(self) * cfg.calls_per_subscriber_day * (last_day - first_day)
        n = int(rng.poisson(mean))
        day = ctx.days_weighted(rng, n, first_day, last_day, WEEK_HUMAN)
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        callee_idx = self.sample(rng, n)
        k = self.contact_ptr[callee_idx + 1] - self.contact_ptr[callee_idx]
        pick = self.contact_ptr[callee_idx] + (rng.random(n) * k).astype(np.int64)
        caller = self.contacts[pick]
        batch = CallBatch.draw(
            rng, t, self.numbers[callee_idx], caller, answer_rate=cfg.answer_rate,
            median_s=55, sigma=1.1, category=Category.NORMAL,
        )  # fmt: skip
        batch.to_carrier[:] = True
        offnet = self.contact_offnet[pick]
        trunks = np.array([ctx.registry.trunk(t) for t in DOMESTIC_TRUNKS], dtype=np.int16)
        batch.trunk[:] = ctx.registry.trunk(ONNET_TRUNK)
        batch.trunk[offnet] = trunks[rng.integers(0, len(trunks), int(offnet.sum()))]
        batch.ingress_country[:] = ctx.registry.country(ctx.victim.code)
        # A few callers withhold their number.
        batch.caller_shown[rng.random(n) < 0.01] = 0
        return batch

    # ----------------------------------------------------------------------------- money
    def open_accounts(self, ctx: WorldContext, ledger: Ledger) -> tuple[I64, I64]:
        """Personal accounts of the subscribers the banks in the case hold; returns
        (subscriber index, account index)."""
        cfg = ctx.scenario.population
        rng = ctx.rng("population-accounts")
        holders = np.flatnonzero(rng.random(len(self)) < cfg.bank_coverage).astype(np.int64)
        opened = -rng.integers(60, 15 * 365, size=len(holders)).astype(np.int64)
        accounts = ledger.open_accounts(
            ctx.victim.code, self.numbers[holders], holders, opened, AccountRole.PERSONAL
        )
        self.account_of = np.full(len(self), -1, np.int64)
        self.account_of[holders] = accounts
        return holders, accounts

    def everyday_money(
        self, ctx: WorldContext, ledger: Ledger, holders: I64, accounts: I64
    ) -> None:
        """Salaries from employers, family transfers and cash withdrawals."""
        cfg = ctx.scenario.population
        rng = ctx.rng("population-money")
        rate = ctx.victim.eur_rate
        n = len(accounts)
        n_emp = per_10k(len(self), cfg.employers_per_10k)
        emp_phone = self.offnet_numbers(ctx, rng, n_emp)
        employers = ledger.open_accounts(
            ctx.victim.code, emp_phone, 10_000_000 + np.arange(n_emp), -np.full(n_emp, 3000),
            AccountRole.EMPLOYER, business=True,
        )  # fmt: skip
        months = np.arange(0, ctx.days, 30, dtype=np.int64)
        employed = rng.random(n) < 0.7
        payday = rng.integers(0, 28, size=n)
        emp_of = employers[(rng.zipf(1.5, size=n) - 1) % n_emp]
        salary = rng.lognormal(np.log(900 * rate), 0.5, size=n)
        e = np.flatnonzero(employed)
        tm = (months[None, :] + payday[e, None]).ravel()
        who = np.repeat(e, len(months))
        keep = tm < ctx.days
        who, tm = who[keep], tm[keep]
        t = ctx.t0 + tm * DAY + 9 * 3600 + rng.integers(0, 3600, size=len(tm))
        ledger.transfer(t, emp_of[who], accounts[who], (salary[who] * 100).astype(np.int64),
                        Channel.ONLINE)  # fmt: skip

        # Family transfers between contacts who both bank here.
        m = int(rng.poisson(n * 0.25 * ctx.days / 30))
        src = rng.integers(0, n, size=m)
        sub = holders[src]
        k = self.contact_ptr[sub + 1] - self.contact_ptr[sub]
        to_num = self.contacts[self.contact_ptr[sub] + (rng.random(m) * k).astype(np.int64)]
        pos = np.clip(np.searchsorted(self.numbers, to_num), 0, len(self) - 1)
        dest_acc = np.where(self.numbers[pos] == to_num, self.account_of[pos], -1)
        ok = dest_acc >= 0
        day = rng.integers(0, ctx.days, size=m)
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        amount = rng.lognormal(np.log(150 * rate), 0.9, size=m)
        ch = rng.choice([0, 1], size=m, p=[0.8, 0.2]).astype(np.int8)
        ledger.transfer(t[ok], accounts[src][ok], dest_acc[ok],
                        (amount[ok] * 100).astype(np.int64), ch[ok])  # fmt: skip

        # Cash withdrawals at ATMs.
        m = int(rng.poisson(n * 0.35 * ctx.days / 30))
        src = rng.integers(0, n, size=m)
        day = rng.integers(0, ctx.days, size=m)
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        amount = np.rint(rng.lognormal(np.log(60 * rate), 0.6, size=m) / 100) * 100 + 100
        ledger.transfer(t, accounts[src], np.full(m, -1), (amount * 100).astype(np.int64),
                        Channel.ATM)  # fmt: skip
