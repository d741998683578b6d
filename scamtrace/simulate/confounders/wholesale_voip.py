"""A wholesale VoIP carrier or calling-card reseller: one SIP account (or a few) at the held
provider that carries the calls of thousands of its own customers.

Each customer, mostly emigrants calling home, presents their OWN caller ID (the number they kept
from home, or their number abroad) and registers from their own home connection, at any hour.
So the account shows thousands of caller IDs local to the people called, from hundreds of
residential addresses: on the surface, the busiest dialler in the case. In behaviour it is
the opposite of one: every caller ID keeps calling the same few relatives, who answer and talk
for many minutes, again and again, for months.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.calls import CallBatch, Category, to_e164
from scamtrace.simulate.confounders.diaspora import APP_USER_AGENTS
from scamtrace.simulate.context import EVENING_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.numbering import ip_blocks, random_ipv4, random_nsn
from scamtrace.simulate.population import Population, per_10k
from scamtrace.simulate.voip import open_sip_accounts, route_international

#: Customers live in many time zones and work shifts: calls at every hour, evenings busiest.
ALL_HOURS = EVENING_HOURS / EVENING_HOURS.sum() + 0.6 / 24


class WholesaleVoip:
    def __init__(self, ctx: WorldContext, population: Population, index: int) -> None:
        self.ctx = ctx
        self.pop = population
        self.rng = ctx.rng(f"wholesale-voip-{index}")
        cfg = ctx.scenario.confounders
        self.n = per_10k(len(population), cfg.wholesale_customers_per_10k)

    def calls(self) -> CallBatch:
        ctx, rng, pop, n = self.ctx, self.rng, self.pop, self.n
        cfg = ctx.scenario.confounders
        n_acc = int(rng.integers(cfg.wholesale_accounts[0], cfg.wholesale_accounts[1] + 1))
        accounts = open_sip_accounts(ctx, rng, n_acc)
        account_of = accounts[rng.integers(0, n_acc, n)]
        uas = np.array([ctx.registry.user_agent(u) for u in APP_USER_AGENTS], np.int16)
        ua = uas[rng.integers(0, len(uas), n)]
        # Relatives and friends at home: a small circle per customer, called again and again.
        circle = rng.integers(1, 7, n)
        relatives = pop.numbers[pop.sample(rng, int(circle.sum()), weighted=False)]
        ptr = np.concatenate([[0], np.cumsum(circle)])
        # Their own number: the one kept from home (local to the relatives) or the one abroad.
        own_home = to_e164(ctx.victim.calling_code, random_nsn(list(ctx.victim.mobile), rng, n))
        own_abroad = to_e164(ctx.centers.calling_code, random_nsn(list(ctx.centers.mobile), rng, n))
        shown = np.where(rng.random(n) < cfg.wholesale_home_number_share, own_home, own_abroad)

        rate = rng.lognormal(np.log(0.25), 0.8, n)  # calls home per day
        m = int(rng.poisson(rate.sum() * ctx.days))
        who = rng.choice(n, size=m, p=rate / rate.sum())
        day = ctx.days_weighted(rng, m, 0, ctx.days, WEEK_HUMAN)
        t = ctx.times(rng, day, ALL_HOURS, ctx.centers.utc_offset_hours)
        callee = relatives[ptr[who] + (rng.random(m) * circle[who]).astype(np.int64)]
        # Now and then a call to someone in the country they live in (never reaches the carrier).
        local = rng.random(m) < 0.15
        callee[local] = to_e164(
            ctx.centers.calling_code, random_nsn(list(ctx.centers.mobile), rng, int(local.sum()))
        )
        batch = CallBatch.draw(
            rng, t, callee, shown[who], answer_rate=0.8, median_s=540, sigma=0.8,
            category=Category.WHOLESALE_VOIP,
        )  # fmt: skip
        batch.via_voip[:] = True
        batch.to_carrier[:] = ~local
        batch.sip_account[:] = account_of[who]
        day_there = ctx.day_of(t, ctx.centers.utc_offset_hours)
        batch.source_ip[:] = self._dynamic_addresses(who, day_there)
        batch.user_agent[:] = ua[who]
        route_international(ctx, rng, batch)
        return batch

    def _dynamic_addresses(
        self, who: npt.NDArray[np.int64], day: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int32]:
        """Each customer's home connection, whose address its ISP changes every few days to
        weeks (dynamic residential addresses; some ISPs force a reconnect daily): registry ids
        per call, all of one customer's addresses from its one ISP."""
        ctx, rng, n = self.ctx, self.rng, self.n
        lease = np.maximum(1, np.rint(rng.lognormal(np.log(6.0), 0.8, n))).astype(np.int64)
        slots = -(-ctx.days // lease)
        first = np.concatenate([[0], np.cumsum(slots)[:-1]])
        blocks = ip_blocks(ctx.centers.code)
        # An ISP's share of customers follows its address space: a small one's /24 would
        # otherwise run out of addresses for thousands of customers' leases.
        size = np.array([b.size for b in blocks], dtype=np.float64)
        isp = np.repeat(rng.choice(len(blocks), size=n, p=size / size.sum()), slots)
        addresses, block_of = random_ipv4(ctx.centers.code, rng, int(slots.sum()), isp)
        ids = ctx.registry.add_ips(
            [str(a) for a in addresses.to_pylist()], [blocks[int(b)].asn_name for b in block_of]
        )
        slot = np.minimum(np.clip(day, 0, None) // lease[who], slots[who] - 1)
        out: npt.NDArray[np.int32] = ids[first[who] + slot]
        return out
