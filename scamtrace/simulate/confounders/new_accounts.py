"""Honest fresh accounts that quickly collect from several unrelated people and pass the money
on: a collection for a sick relative, a new small business, a club's trip. Fresh, many payers,
fast out: every naive mule signal, no fraud."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.banking import AccountRole, Channel, Ledger
from scamtrace.simulate.context import DAY, HUMAN_HOURS, WorldContext
from scamtrace.simulate.population import Population, per_10k

I64 = npt.NDArray[np.int64]


class NewAccountPayees:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("new-accounts")

    def money(self, ledger: Ledger, accounts: I64) -> None:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        rate = ctx.victim.eur_rate
        n = per_10k(len(pop), ctx.scenario.population.new_account_payees_per_10k)
        opened = rng.integers(0, max(1, ctx.days - 20), n).astype(np.int64)
        phones = pop.numbers[pop.sample(rng, n, weighted=False)]
        fresh = ledger.open_accounts(ctx.victim.code, phones, 50_000_000 + np.arange(n), opened,
                                     AccountRole.NEW_ACCOUNT)  # fmt: skip
        payers = rng.integers(3, 40, n)
        who = np.repeat(np.arange(n), payers)
        day = opened[who] + rng.integers(1, 10, len(who))
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        cents = (rng.lognormal(np.log(80 * rate), 0.9, len(who)) * 100).astype(np.int64)
        ledger.transfer(t, accounts[rng.integers(0, len(accounts), len(who))], fresh[who], cents,
                        Channel.MOBILE)  # fmt: skip
        # The money goes out within a day or two: withdrawn, or sent on to one account.
        total = np.bincount(who, weights=cents, minlength=n).astype(np.int64)
        t_out = ctx.t0 + (opened + 11) * DAY + rng.integers(0, 2 * DAY, n)
        onward = accounts[rng.integers(0, len(accounts), n)]
        atm = rng.random(n) < 0.4
        dest = np.where(atm, -1, onward)
        ch = np.where(atm, int(Channel.ATM), int(Channel.ONLINE)).astype(np.int8)
        ledger.transfer(t_out, fresh, dest, np.rint(total * 0.98).astype(np.int64), ch)
