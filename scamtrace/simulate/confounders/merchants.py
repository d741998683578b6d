"""Shops and landlords: honest accounts that collect from many unrelated payers, and (shops)
sweep the takings on quickly. Naive 'many payers' and 'money passes through' rules flag them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.banking import AccountRole, Channel, Ledger
from scamtrace.simulate.context import DAY, HUMAN_HOURS, WorldContext
from scamtrace.simulate.population import Population, per_10k

I64 = npt.NDArray[np.int64]


class Merchants:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("merchants")

    def money(self, ledger: Ledger, accounts: I64) -> None:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        cfg = ctx.scenario.population
        rate = ctx.victim.eur_rate
        n_m = per_10k(len(pop), cfg.merchants_per_10k)
        phones = Population.offnet_numbers(ctx, rng, n_m)
        shops = ledger.open_accounts(ctx.victim.code, phones, 30_000_000 + np.arange(n_m),
                                     -rng.integers(100, 5000, n_m), AccountRole.MERCHANT,
                                     business=True)  # fmt: skip
        m = int(rng.poisson(len(accounts) * cfg.transfers_per_account_month * ctx.days / 30))
        payer = accounts[rng.integers(0, len(accounts), m)]
        shop = (rng.zipf(1.3, m) - 1) % n_m
        day = rng.integers(0, ctx.days, m)
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        cents = (rng.lognormal(np.log(25 * rate), 1.0, m) * 100).astype(np.int64)
        ledger.transfer(t, payer, shops[shop], cents, Channel.MOBILE)

        # A third of the shops sweep each day's takings to their main account the next morning.
        sweeping = rng.random(n_m) < 0.33
        own = ledger.open_accounts(ctx.victim.code, phones, 30_000_000 + np.arange(n_m),
                                   -rng.integers(100, 5000, n_m), AccountRole.MERCHANT,
                                   business=True)  # fmt: skip
        s = sweeping[shop]
        key = shop[s] * ctx.days + day[s]
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv, weights=cents[s]).astype(np.int64)
        sd, sday = uniq // ctx.days, uniq % ctx.days
        t_sweep = ctx.t0 + (sday + 1) * DAY + 2 * 3600 + rng.integers(0, 3600, len(uniq))
        ledger.transfer(t_sweep, shops[sd], own[sd], total, Channel.ONLINE)


class Landlords:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("landlords")

    def money(self, ledger: Ledger, accounts: I64) -> None:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        rate = ctx.victim.eur_rate
        n_l = per_10k(len(pop), ctx.scenario.population.landlords_per_10k)
        phones = pop.numbers[pop.sample(rng, n_l, weighted=False)]
        landlords = ledger.open_accounts(
            ctx.victim.code,
            phones,
            40_000_000 + np.arange(n_l),
            -rng.integers(100, 5000, n_l),
            AccountRole.LANDLORD,
        )
        tenants = accounts[rng.random(len(accounts)) < 0.15]
        landlord_of = (rng.zipf(1.6, len(tenants)) - 1) % n_l
        rent = rng.lognormal(np.log(300 * rate), 0.4, len(tenants))
        due = rng.integers(0, 5, len(tenants))
        months = np.arange(0, ctx.days, 30)
        who = np.repeat(np.arange(len(tenants)), len(months))
        day = (np.tile(months, len(tenants)) + due[who]).astype(np.int64)
        keep = day < ctx.days
        who, day = who[keep], day[keep]
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        ledger.transfer(t, tenants[who], landlords[landlord_of[who]],
                        (rent[who] * 100).astype(np.int64), Channel.ONLINE)  # fmt: skip
