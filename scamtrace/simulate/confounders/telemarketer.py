"""Domestic telemarketers: many short calls down number lists from pools of local numbers,
on domestic trunks. They dial like the fraud does, but from inside the country, honestly."""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import OFFICE_HOURS, WEEK_OFFICE, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import BLOCK, DOMESTIC_TRUNKS, Population


class Telemarketer:
    def __init__(self, ctx: WorldContext, population: Population, index: int) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng(f"telemarketer-{index}")

    def calls(self) -> CallBatch:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        cfg = ctx.scenario.confounders
        plan = ctx.victim
        k = int(rng.integers(cfg.telemarketer_numbers[0], cfg.telemarketer_numbers[1] + 1))
        blocks = list(plan.landline) if rng.random() < 0.5 else list(plan.mobile)
        pool = to_e164(plan.calling_code, random_nsn(blocks, rng, k))
        m = int(rng.poisson(cfg.telemarketer_calls_per_day * ctx.days * ctx.scenario.scale))
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_OFFICE)
        t = np.sort(ctx.times(rng, day, OFFICE_HOURS, plan.utc_offset_hours))
        start = pop.block_bases[rng.integers(0, len(pop.block_bases))] + rng.integers(0, BLOCK)
        callee = start + np.arange(m)  # down a list of consecutive numbers
        listed = rng.random(m) < 0.5
        callee[listed] = pop.numbers[pop.sample(rng, int(listed.sum()), weighted=False)]
        reached = pop.is_subscriber(callee)
        batch = CallBatch.draw(
            rng, t, callee, pool[rng.integers(0, k, m)], answer_rate=0.35, median_s=35,
            sigma=0.9, category=Category.TELEMARKETER,
        )  # fmt: skip
        batch = batch.take(reached)
        batch.to_carrier[:] = True
        batch.ingress_country[:] = ctx.registry.country(plan.code)
        trunk = ctx.registry.trunk(DOMESTIC_TRUNKS[int(rng.integers(len(DOMESTIC_TRUNKS)))])
        batch.trunk[:] = trunk
        return batch
