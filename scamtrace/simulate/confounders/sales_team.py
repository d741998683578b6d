"""Sales teams dialling lists from company mobiles all day: the honest look-alike of SIM-box lines.

Like a SIM box they call many strangers from mobile numbers of the victims' country on domestic
trunks, mostly unanswered, often from a company's block of consecutive numbers, and a closer
calls the interested back from another line. Unlike one, each line is the same employee's phone
for months, and it answers when people call it back. Some teams are new: set up on fresh lines
(a new block of consecutive numbers) in the case's last weeks, they are young when the case
ends, as every line of a SIM box is.
"""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import DAY, OFFICE_HOURS, WEEK_OFFICE, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import BLOCK, DOMESTIC_TRUNKS, ONNET_TRUNK, Population


class SalesTeam:
    def __init__(self, ctx: WorldContext, population: Population, index: int) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng(f"sales-team-{index}")

    def calls(self) -> CallBatch:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        cfg = ctx.scenario.confounders
        plan = ctx.victim
        k = int(rng.integers(cfg.sales_team_lines[0], cfg.sales_team_lines[1] + 1))
        new = rng.random() < cfg.sales_new_team_share
        if new or rng.random() < cfg.sales_corporate_block_share:
            base = (random_nsn(list(plan.mobile), rng, 1)[0] // 1000) * 1000
            lines = to_e164(plan.calling_code, base + np.arange(k))
        else:
            lines = to_e164(plan.calling_code, random_nsn(list(plan.mobile), rng, k))
        onnet = rng.random() < 0.4
        names = (ONNET_TRUNK,) if onnet else DOMESTIC_TRUNKS
        trunk = ctx.registry.trunk(names[int(rng.integers(len(names)))])
        home = ctx.registry.country(plan.code)

        first = int(rng.integers(max(0, ctx.days - 21), max(1, ctx.days - 3))) if new else 0
        # Every working day, each line works down its share of the team's lists.
        working = float(WEEK_OFFICE[ctx.weekday(np.arange(first, ctx.days))].sum())
        m = int(rng.poisson(k * cfg.sales_calls_per_line_day * working))
        day = ctx.days_weighted(rng, m, first, ctx.days, WEEK_OFFICE)
        t = np.sort(ctx.times(rng, day, OFFICE_HOURS, plan.utc_offset_hours))
        # Bought lists (numbers of people) and runs of consecutive numbers, as telemarketers do.
        seg_len = rng.integers(200, 2000, size=m // 200 + 1)
        seg_len = seg_len[: np.searchsorted(np.cumsum(seg_len), m) + 1]
        starts = pop.block_bases[rng.integers(0, len(pop.block_bases), len(seg_len))]
        starts = starts + rng.integers(0, BLOCK, len(seg_len))
        seg_of = np.repeat(np.arange(len(seg_len)), seg_len)[:m]
        within = np.arange(m) - np.concatenate([[0], np.cumsum(seg_len)[:-1]])[seg_of]
        callee = starts[seg_of] + within
        listed = rng.random(m) < 0.5
        callee[listed] = pop.numbers[pop.sample(rng, int(listed.sum()), weighted=False)]
        line = rng.integers(0, k, m)
        dials = CallBatch.draw(rng, t, callee, lines[line], answer_rate=0.3, median_s=50,
                               sigma=0.9, category=Category.SALES_TEAM)  # fmt: skip
        dials = dials.take(pop.is_subscriber(callee))
        line = line[pop.is_subscriber(callee)]

        # A closer calls some who listened again, days later, from another line of the team.
        hot = np.flatnonzero(dials.answered & (rng.random(len(dials)) < 0.15))
        closer = (line[hot] + rng.integers(1, max(2, k), len(hot))) % k
        t_close = dials.time[hot] + rng.integers(1, 8, len(hot)) * DAY
        close = CallBatch.draw(rng, t_close, dials.callee[hot], lines[closer], answer_rate=0.7,
                               median_s=300, sigma=0.7, category=Category.SALES_TEAM)  # fmt: skip
        parts = [dials, close]
        if onnet:
            # People call back the number that rang them; the employee answers. Only lines of
            # the carrier's own network show these calls in its records.
            p_back = np.where(dials.answered, 0.03, 0.08)
            back = np.flatnonzero(rng.random(len(dials)) < p_back)
            t_back = dials.time[back] + np.rint(rng.lognormal(np.log(3600), 1.0, len(back)))
            parts.append(CallBatch.draw(rng, t_back.astype(np.int64), dials.caller_shown[back],
                                        dials.callee[back], answer_rate=0.75, median_s=90,
                                        sigma=0.8, category=Category.SALES_TEAM))  # fmt: skip
        batch = CallBatch.concat(parts)
        batch.to_carrier[:] = True
        batch.ingress_country[:] = home
        batch.trunk[:] = trunk
        n_back = len(parts[2]) if onnet else 0
        batch.trunk[len(batch) - n_back :] = ctx.registry.trunk(ONNET_TRUNK)
        return batch
