"""Company PBX trunks: a firm's phone system behind one SIP trunk at the held provider.

The trunk presents each employee's direct number, a block of consecutive DIDs; trading and
import-export firms with a branch in the victims' country host that branch's numbers on the same
PBX, so their caller IDs look local to the people called, from abroad. Several caller IDs on
one account, local-looking numbers from abroad: what a naive rule calls spoofing. In behaviour
it is a business: office hours, the same customers and suppliers called again and again by the
same employee, answered, ordinary conversations.
"""

from __future__ import annotations

import numpy as np

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.context import OFFICE_HOURS, WEEK_OFFICE, WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import Population
from scamtrace.simulate.voip import home_ips, open_sip_accounts, route_international

PBX_USER_AGENTS = ("Asterisk PBX 16.2.1", "3CXPhoneSystem 16.0.6.641", "FPBX-15.0.16.75(16.9.0)",
                   "Cisco-SIPGateway/IOS-15.2", "Avaya CM/R016x.03.0.124.0")  # fmt: skip


class CompanyPbx:
    def __init__(self, ctx: WorldContext, population: Population, index: int) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng(f"company-pbx-{index}")

    def calls(self) -> CallBatch:
        ctx, rng, pop = self.ctx, self.rng, self.pop
        cfg = ctx.scenario.confounders
        staff = int(rng.integers(cfg.pbx_employees[0], cfg.pbx_employees[1] + 1))
        account = open_sip_accounts(ctx, rng, 1)[0]
        office = home_ips(ctx, rng, 1, per_owner=2)[0]  # a main and a backup line
        ua = ctx.registry.user_agent(PBX_USER_AGENTS[int(rng.integers(len(PBX_USER_AGENTS)))])
        # Direct numbers: one block of consecutive DIDs, of the branch abroad or of the office.
        plan = ctx.victim if rng.random() < cfg.pbx_victim_country_dids else ctx.centers
        first = to_e164(plan.calling_code, random_nsn(list(plan.landline), rng, 1))[0]
        dids = first - first % 100 + rng.integers(0, 100 - staff) + np.arange(staff)
        # Each employee looks after their own customers and suppliers in the victims' country
        # (3 to 24 of them); a world at a smaller scale holds that share of them, so each is
        # called as often as at full scale.
        book = 1 + rng.binomial(rng.integers(2, 24, staff), ctx.scenario.scale)
        contacts = pop.numbers[pop.sample(rng, int(book.sum()), weighted=True)]
        ptr = np.concatenate([[0], np.cumsum(book)])
        m = int(rng.poisson(staff * cfg.pbx_calls_per_employee_day * ctx.days * ctx.scenario.scale))
        who = rng.integers(0, staff, m)
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_OFFICE)
        t = ctx.times(rng, day, OFFICE_HOURS, ctx.centers.utc_offset_hours)
        # Some contacts get most of the calls (a key supplier), as in any address book.
        pick = np.minimum(rng.zipf(1.6, m) - 1, book[who] - 1)
        callee = contacts[ptr[who] + pick]
        batch = CallBatch.draw(
            rng, t, callee, dids[who], answer_rate=0.7, median_s=200, sigma=0.9,
            category=Category.COMPANY_PBX,
        )  # fmt: skip
        batch.via_voip[:] = True
        batch.to_carrier[:] = True
        batch.sip_account[:] = account
        batch.source_ip[:] = office[(rng.random(m) < 0.1).astype(np.int64)]
        batch.user_agent[:] = ua
        route_international(ctx, rng, batch)
        return batch
