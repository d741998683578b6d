"""Honest personal accounts that pass other people's money on within hours: purchasing agents
(daigou), ticket and second-hand resellers, group-buy organisers. Each customer pays once for an
order and the agent pays the supplier the same day. Many first-time payers and money that leaves
within hours, from personal and often recently opened accounts: every money-alone mule signal
except one, the payments are ordinary purchases for the people who make them, not their savings.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.banking import AccountRole, Channel, Ledger
from scamtrace.simulate.context import HUMAN_HOURS, WorldContext
from scamtrace.simulate.population import Population, per_10k

I64 = npt.NDArray[np.int64]
#: Suppliers an agent buys from: a handful of shops and wholesalers.
SUPPLIERS = (1, 6)


class PurchasingAgents:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("purchasing-agents")

    def money(self, ledger: Ledger, accounts: I64) -> None:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        rate = ctx.victim.eur_rate
        n = per_10k(len(pop), ctx.scenario.population.purchasing_agents_per_10k)
        # A third started the side business this year, with a new account for it.
        fresh = rng.random(n) < 0.35
        opened = np.where(fresh, rng.integers(-200, max(1, ctx.days // 2), n),
                          -rng.integers(400, 4000, n)).astype(np.int64)  # fmt: skip
        phones = pop.numbers[pop.sample(rng, n, weighted=False)]
        agents = ledger.open_accounts(ctx.victim.code, phones, 60_000_000 + np.arange(n), opened,
                                      AccountRole.PERSONAL)  # fmt: skip
        n_sup = rng.integers(SUPPLIERS[0], SUPPLIERS[1] + 1, n)
        suppliers = ledger.open_accounts(
            ctx.victim.code, Population.offnet_numbers(ctx, rng, int(n_sup.sum())),
            61_000_000 + np.arange(int(n_sup.sum())), -rng.integers(300, 5000, int(n_sup.sum())),
            AccountRole.MERCHANT, business=True,
        )  # fmt: skip
        first_supplier = np.concatenate([[0], np.cumsum(n_sup)[:-1]])

        orders = rng.integers(3, 60, n)
        who = np.repeat(np.arange(n), orders)
        start = np.maximum(opened, 0)[who]
        day = start + rng.integers(0, np.maximum(ctx.days - start, 1))
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        # Orders are what people buy: clothes, cosmetics, tickets; a few hundred euros at most.
        cents = np.rint(rng.lognormal(np.log(90 * rate), 0.8, len(who)) * 100).astype(np.int64)
        customers = accounts[rng.integers(0, len(accounts), len(who))]
        ledger.transfer(t, customers, agents[who], cents, Channel.MOBILE)
        supplier = suppliers[first_supplier[who] + rng.integers(0, n_sup[who])]
        t_buy = t + rng.integers(1800, 12 * 3600, len(who))
        # The agent keeps a margin of a few per cent.
        paid = np.rint(cents * rng.uniform(0.85, 0.97, len(who))).astype(np.int64)
        ledger.transfer(t_buy, agents[who], supplier, paid, Channel.ONLINE)
