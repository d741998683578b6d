"""The VoIP provider's ordinary customers at home: households and small businesses calling
numbers in their own country, now and then one abroad (the victims' country included)."""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import HUMAN_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import Population, per_10k
from scamtrace.simulate.voip import home_ips, open_sip_accounts, route_international

HOME_USER_AGENTS = ("Grandstream HT801 1.0.17.5", "FRITZ!OS 7.29", "Yealink SIP-T21P_E2 52.84",
                    "Zoiper rv2.8.40", "Asterisk PBX 13.1.0", "Linksys/SPA941-5.1.8")  # fmt: skip


class VoipLocals:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("voip-locals")
        self.n = per_10k(len(population), ctx.scenario.confounders.voip_locals_per_10k)

    def calls(self) -> CallBatch:
        ctx, rng, pop, n = self.ctx, self.rng, self.pop, self.n
        home = ctx.centers
        accounts = open_sip_accounts(ctx, rng, n)
        ips = home_ips(ctx, rng, n)[:, 0]
        uas = np.array([ctx.registry.user_agent(u) for u in HOME_USER_AGENTS], np.int16)
        ua = uas[rng.integers(0, len(uas), n)]
        own = to_e164(
            home.calling_code, random_nsn(list(home.landline) + list(home.mobile), rng, n)
        )
        rate = rng.lognormal(np.log(1.5), 0.7, n)
        m = int(rng.poisson(rate.sum() * ctx.days))
        who = rng.choice(n, size=m, p=rate / rate.sum())
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_HUMAN)
        t = ctx.times(rng, day, HUMAN_HOURS, home.utc_offset_hours)
        callee = to_e164(
            home.calling_code, random_nsn(list(home.mobile) + list(home.landline), rng, m)
        )
        # Some households (home-country families among them) call the victims' country.
        abroad = (who % 20 == 0) & (rng.random(m) < 0.5)
        callee[abroad] = pop.numbers[pop.sample(rng, int(abroad.sum()))]
        batch = CallBatch.draw(
            rng, t, callee, own[who], answer_rate=0.8, median_s=90, sigma=1.0,
            category=Category.VOIP_LOCAL,
        )  # fmt: skip
        batch.via_voip[:] = True
        batch.sip_account[:] = accounts[who]
        batch.source_ip[:] = ips[who]
        batch.user_agent[:] = ua[who]
        batch.to_carrier[:] = abroad
        route_international(ctx, rng, batch)
        return batch
