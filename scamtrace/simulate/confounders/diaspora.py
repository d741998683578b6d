"""Emigrants in the centers' country who call their families at home over VoIP, every few days.

They look like the fraud on the surface: foreign IP addresses, calls arriving on international
trunks, often with their old home-country number as caller ID. They differ in behaviour: the
same few numbers, long evening calls, months on end.
"""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import EVENING_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import Population, per_10k
from scamtrace.simulate.voip import home_ips, open_sip_accounts, route_international

APP_USER_AGENTS = ("Zoiper rv2.8.40", "Linphone/3.6.1 (eXosip2/4.1.0)", "MicroSIP/3.12.7",
                   "Bria 3 release 3.5.5", "CSipSimple_GT-I9505-19/r2457")  # fmt: skip


class Diaspora:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("diaspora")
        cfg = ctx.scenario.confounders
        self.n = per_10k(len(population), cfg.diaspora_per_10k)

    def calls(self) -> CallBatch:
        ctx, rng, pop, n = self.ctx, self.rng, self.pop, self.n
        accounts = open_sip_accounts(ctx, rng, n)
        ips = home_ips(ctx, rng, n, per_owner=2)
        uas = np.array([ctx.registry.user_agent(u) for u in APP_USER_AGENTS], np.int16)
        ua = uas[rng.integers(0, len(uas), n)]
        family_size = rng.integers(1, 5, n)
        family = pop.numbers[pop.sample(rng, int(family_size.sum()), weighted=False)]
        fam_ptr = np.concatenate([[0], np.cumsum(family_size)])
        own_home = to_e164(ctx.victim.calling_code, random_nsn(list(ctx.victim.mobile), rng, n))
        own_abroad = to_e164(ctx.centers.calling_code, random_nsn(list(ctx.centers.mobile), rng, n))
        keeps_home = rng.random(n) < ctx.scenario.confounders.diaspora_own_number_share
        shown = np.where(keeps_home, own_home, own_abroad)

        rate = rng.uniform(0.2, 0.8, n)  # calls home per day
        m = int(rng.poisson(rate.sum() * ctx.days))
        who = rng.choice(n, size=m, p=rate / rate.sum())
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_HUMAN)
        t = ctx.times(rng, day, EVENING_HOURS, ctx.victim.utc_offset_hours)
        callee = family[fam_ptr[who] + (rng.random(m) * family_size[who]).astype(np.int64)]
        batch = CallBatch.draw(
            rng, t, callee, shown[who], answer_rate=0.8, median_s=420, sigma=0.8,
            category=Category.DIASPORA,
        )  # fmt: skip
        batch.to_carrier[:] = True
        batch.via_voip[:] = True
        batch.sip_account[:] = accounts[who]
        half = (ctx.day_of(t, ctx.centers.utc_offset_hours) * 2 // ctx.days).clip(0, 1)
        batch.source_ip[:] = ips[who, half]
        batch.user_agent[:] = ua[who]
        route_international(ctx, rng, batch)
        return batch
