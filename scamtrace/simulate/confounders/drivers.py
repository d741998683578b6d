"""Delivery drivers: many strangers called once each from a mobile, every working day.

A courier rings each customer on the day's route once, briefly; most pick up, and those who
missed the call ring back and the driver answers. Many strangers, each once, from a domestic
mobile: the fan-out of a SIM-box line, with none of its silence or short life.
"""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import OFFICE_HOURS, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import DOMESTIC_TRUNKS, ONNET_TRUNK, Population, per_10k

#: Couriers work six days a week.
WEEK_DELIVERY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.05])


class Drivers:
    def __init__(self, ctx: WorldContext, population: Population) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng("drivers")
        self.n = per_10k(len(population), ctx.scenario.confounders.drivers_per_10k)

    def calls(self) -> CallBatch:
        ctx, rng, pop, n = self.ctx, self.rng, self.pop, self.n
        plan = ctx.victim
        own = to_e164(plan.calling_code, random_nsn(list(plan.mobile), rng, n))
        onnet = rng.random(n) < 0.5
        trunks = np.array([ctx.registry.trunk(t) for t in (ONNET_TRUNK, *DOMESTIC_TRUNKS)],
                          np.int16)  # fmt: skip
        trunk = np.where(onnet, trunks[0], trunks[1 + rng.integers(0, len(DOMESTIC_TRUNKS), n)])
        working = float(WEEK_DELIVERY[ctx.weekday(np.arange(ctx.days))].sum())
        m = int(rng.poisson(n * ctx.scenario.confounders.driver_calls_per_day * working))
        who = rng.integers(0, n, m)
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_DELIVERY)
        t = ctx.times(rng, day, OFFICE_HOURS, plan.utc_offset_hours)
        customer = pop.numbers[pop.sample(rng, m, weighted=False)]
        rounds = CallBatch.draw(rng, t, customer, own[who], answer_rate=0.8, median_s=25,
                                sigma=0.6, category=Category.DRIVER)  # fmt: skip
        rounds.trunk[:] = trunk[who]
        # Customers who missed the call ring the driver back within minutes; only drivers on
        # the carrier's own network show those calls in its records.
        back = np.flatnonzero(~rounds.answered & onnet[who] & (rng.random(m) < 0.4))
        t_back = t[back] + rng.integers(60, 1800, len(back))
        backs = CallBatch.draw(rng, t_back, own[who[back]], customer[back], answer_rate=0.9,
                               median_s=30, sigma=0.6, category=Category.DRIVER)  # fmt: skip
        backs.trunk[:] = trunks[0]
        batch = CallBatch.concat([rounds, backs])
        batch.to_carrier[:] = True
        batch.ingress_country[:] = ctx.registry.country(plan.code)
        return batch
