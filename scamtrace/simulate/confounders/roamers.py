"""Subscribers travelling abroad: their own numbers arrive on international trunks.

Every local number from abroad is what spoofing looks like to a naive rule. A roaming
subscriber calls the people it calls at home, answered and talked to, for the days of a trip,
and is back on the domestic network before and after it.
"""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category
from scamtrace.simulate.context import HUMAN_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.population import ONNET_TRUNK, Population, per_10k
from scamtrace.simulate.voip import route_international


class Roamers:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("roamers")
        self.n = per_10k(len(population), ctx.scenario.confounders.roamers_per_10k)

    def calls(self) -> CallBatch:
        ctx, rng, pop, n = self.ctx, self.rng, self.pop, self.n
        who = np.unique(pop.sample(rng, n))
        n = len(who)
        size = pop.contact_ptr[who + 1] - pop.contact_ptr[who]
        trip_days = np.minimum(rng.integers(3, 15, n), ctx.days)
        trip_start = rng.integers(0, ctx.days - trip_days + 1)

        # The same circle at home (the whole period) and abroad (the trip), one rate each.
        rate = rng.uniform(0.5, 2.5, n)
        m = int(rng.poisson(rate.sum() * ctx.days))
        caller = rng.choice(n, size=m, p=rate / rate.sum())
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_HUMAN)
        t = ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours)
        # Most calls go to the closest few people of the circle.
        rank = np.minimum(rng.geometric(0.35, m) - 1, size[caller] - 1)
        callee = pop.contacts[pop.contact_ptr[who[caller]] + rank]
        batch = CallBatch.draw(rng, t, callee, pop.numbers[who[caller]], answer_rate=0.85,
                               median_s=150, sigma=0.9, category=Category.ROAMER)  # fmt: skip
        abroad = (day >= trip_start[caller]) & (day < trip_start[caller] + trip_days[caller])
        # Only calls to the carrier's own subscribers are in its records.
        batch = batch.take(pop.is_subscriber(callee))
        abroad = abroad[pop.is_subscriber(callee)]
        batch.to_carrier[:] = True
        batch.ingress_country[:] = ctx.registry.country(ctx.victim.code)
        batch.trunk[:] = ctx.registry.trunk(ONNET_TRUNK)
        away = batch.take(abroad)
        route_international(ctx, rng, away)
        batch.ingress_country[abroad] = away.ingress_country
        batch.trunk[abroad] = away.trunk
        return batch
