"""Honest call centers abroad (an airline, a bank's support line, a shop) that call customers in
the victims' country in bulk, from a few SIP trunks, with their real hotline numbers."""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import OFFICE_HOURS, WEEK_OFFICE, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import Population
from scamtrace.simulate.voip import home_ips, open_sip_accounts, route_international

BUSINESS_USER_AGENTS = ("Avaya CM/R016x.03.0.124.0", "Cisco-SIPGateway/IOS-15.2",
                        "Asterisk PBX 13.1.0", "3CXPhoneSystem 15.5.3849.1")  # fmt: skip


class ForeignCallCenter:
    def __init__(self, ctx: WorldContext, population: Population, index: int) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng(f"foreign-call-center-{index}")

    def calls(self) -> CallBatch:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        cfg = ctx.scenario.confounders
        n_acc = int(
            rng.integers(cfg.foreign_center_accounts[0], cfg.foreign_center_accounts[1] + 1)
        )
        accounts = open_sip_accounts(ctx, rng, n_acc)
        ips = home_ips(ctx, rng, 1, per_owner=2)[0]
        ua = ctx.registry.user_agent(
            BUSINESS_USER_AGENTS[int(rng.integers(len(BUSINESS_USER_AGENTS)))]
        )
        # The company's published hotline: a home-country business number, or its own abroad.
        plan = ctx.victim if rng.random() < 0.6 else ctx.centers
        hotline = to_e164(plan.calling_code, random_nsn(list(plan.business), rng, 1))[0]
        customers = pop.numbers[pop.sample(rng, max(10, len(pop) // 60), weighted=False)]
        m = int(rng.poisson(n_acc * cfg.foreign_center_calls_per_account_day * ctx.days
                            * ctx.scenario.scale))  # fmt: skip
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_OFFICE)
        t = ctx.times(rng, day, OFFICE_HOURS, ctx.victim.utc_offset_hours)
        callee = customers[rng.integers(0, len(customers), m)]
        batch = CallBatch.draw(
            rng, t, callee, np.full(m, hotline), answer_rate=0.55, median_s=110, sigma=0.8,
            category=Category.FOREIGN_CALL_CENTER,
        )  # fmt: skip
        batch.to_carrier[:] = True
        batch.via_voip[:] = True
        line = rng.integers(0, n_acc, m)
        batch.sip_account[:] = accounts[line]
        batch.source_ip[:] = ips[line % len(ips)]
        batch.user_agent[:] = ua
        route_international(ctx, rng, batch)
        return batch
