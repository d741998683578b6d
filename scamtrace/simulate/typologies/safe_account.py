"""The 'safe account' call-center scam of the 2016 case, as one fraud typology.

A network runs several call centers abroad. Operators dial lists of numbers in the victims'
country (sequential blocks and leaked lists) over SIP accounts at VoIP providers, presenting
spoofed local caller IDs. A person who answers and listens hears the ``neighbor`` warning; a
share of them get a ``police`` call days later (often from another line, sometimes another center
of the same network), then an ``official`` who asks for a deposit into a "safe" account. Some
pay, some pay again after a ``followup``. Everything is drawn in arrays, a center at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.calls import (
    CallBatch,
    Category,
    Stage,
    talk_time,
    to_e164,
    unanswered_statuses,
)
from scamtrace.simulate.config import NetworkConfig
from scamtrace.simulate.context import DAY, HUMAN_HOURS, WEEK_HUMAN, WorldContext
from scamtrace.simulate.numbering import random_ipv4, random_nsn
from scamtrace.simulate.population import BLOCK, Population

I64 = npt.NDArray[np.int64]

CENTER_USER_AGENTS = (
    "Asterisk PBX 13.1.0",
    "FPBX-2.11.0(11.25.1)",
    "VOS3000 V2.1.4.0",
    "Zoiper rv2.8.40",
    "eyeBeam release 1011d stamp 40820",
    "MicroSIP/3.12.7",
    "Linphone/3.6.1 (eXosip2/4.1.0)",
)

#: How a center presents caller IDs; ``sim_box``: a real prepaid SIM of the victims' country
#: (typologies/sim_box.py), not a spoofed number.
SPOOF_STRATEGIES = ("random_local", "rotating", "fixed", "official_lookalike", "sim_box")


@dataclass
class Center:
    index: int  # global center index in the world
    label: str  # e.g. "C03"
    network: int
    region: str
    operators: int
    first_day: int
    last_day: int  # exclusive
    accounts: npt.NDArray[np.int32]  # registry ids
    account_at_holder: npt.NDArray[np.bool_]
    ips: npt.NDArray[np.int32]  # registry ids, in rotation order
    user_agent: int


@dataclass
class Payment:
    """Victims' payments, one element per payment: who, when, how much (in EUR)."""

    victim: I64 = field(default_factory=lambda: np.zeros(0, np.int64))  # subscriber index
    time: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    amount_eur: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    network: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))


@dataclass
class ScamOutput:
    calls: CallBatch
    centers: list[Center]
    payments: Payment
    # Strategy (index into SPOOF_STRATEGIES) behind each presented caller ID, per call.
    spoof_strategy: npt.NDArray[np.int8]


class SafeAccountScam:
    """One network of call centers running the staged script against one population."""

    def __init__(
        self,
        ctx: WorldContext,
        network_index: int,
        cfg: NetworkConfig,
        population: Population,
        first_center_index: int,
    ) -> None:
        self.ctx = ctx
        self.net = network_index
        self.cfg = cfg
        self.pop = population
        self.rng = ctx.rng(f"network-{network_index}-{cfg.name}")
        self.centers = [self._center(first_center_index + c, c) for c in range(cfg.centers)]

    # ----------------------------------------------------------------- infrastructure
    def _center(self, index: int, local: int) -> Center:
        rng, cfg, ctx = self.rng, self.cfg, self.ctx
        ops = int(rng.integers(cfg.operators[0], cfg.operators[1] + 1))
        share = rng.uniform(*cfg.active_share)
        span = max(2, round(ctx.days * share))
        first = int(rng.integers(0, ctx.days - span + 1))
        n_acc = max(1, round(ops * cfg.accounts_per_operators))
        names = [f"sip{v:08d}" for v in rng.integers(10**7, 10**8, size=n_acc)]
        accounts = ctx.registry.add_sip_accounts(names)
        at_holder = rng.random(n_acc) < cfg.provider_coverage
        at_holder[0] = True
        if not _center_at_holder(ctx, index):
            at_holder[:] = False  # the whole center is at providers the case lacks
        n_ip = int(rng.integers(cfg.ips_per_center[0], cfg.ips_per_center[1] + 1))
        if cfg.ip_rotation_days > 0:
            n_ip *= max(1, int(np.ceil(span / cfg.ip_rotation_days)))
        # One center, one access network: its addresses come from one ISP block.
        block = int(rng.integers(0, 1 << 30))
        addresses, asn = _ips_in_one_block(ctx, rng, n_ip, block)
        ips = ctx.registry.add_ips(addresses, asn)
        ua = ctx.registry.user_agent(CENTER_USER_AGENTS[int(rng.integers(len(CENTER_USER_AGENTS)))])
        return Center(
            index=index, label=f"C{index + 1:02d}", network=self.net,
            region=cfg.regions[local % len(cfg.regions)], operators=ops,
            first_day=first, last_day=first + span, accounts=accounts,
            account_at_holder=at_holder, ips=ips, user_agent=ua,
        )  # fmt: skip

    # --------------------------------------------------------------------- dialling
    def _list_dial(self, c: Center) -> CallBatch:
        rng, cfg, ctx, pop = self.rng, self.cfg, self.ctx, self.pop
        days = c.last_day - c.first_day
        n = int(
            rng.poisson(c.operators * cfg.attempts_per_operator_day * days * ctx.scenario.scale)
        )
        day = ctx.days_weighted(rng, n, c.first_day, c.last_day, WEEK_HUMAN)
        t = np.sort(ctx.times(rng, day, HUMAN_HOURS, ctx.victim.utc_offset_hours))
        # Each day the center works either a leaked list or a run of sequential blocks.
        leaked_day = rng.random(ctx.days) < cfg.leaked_list_share
        leaked = leaked_day[ctx.day_of(t, ctx.victim.utc_offset_hours)]
        target = np.empty(n, np.int64)
        n_leak = int(leaked.sum())
        target[leaked] = pop.numbers[pop.sample(rng, n_leak, weighted=False)]
        n_seq = n - n_leak
        seg_len = rng.integers(300, 3000, size=max(1, n_seq // 300 + 1))
        seg_len = seg_len[: np.searchsorted(np.cumsum(seg_len), n_seq) + 1]
        starts = pop.block_bases[rng.integers(0, len(pop.block_bases), len(seg_len))]
        starts = starts + rng.integers(0, BLOCK, len(seg_len))
        seg_of = np.repeat(np.arange(len(seg_len)), seg_len)[:n_seq]
        within = np.arange(n_seq) - np.concatenate([[0], np.cumsum(seg_len)[:-1]])[seg_of]
        target[~leaked] = starts[seg_of] + within
        offnet = rng.random(n) < cfg.offnet_target_share
        target[offnet] = Population.offnet_numbers(ctx, rng, int(offnet.sum()))

        subscriber = pop.is_subscriber(target)
        unassigned = ~subscriber & ~offnet
        f = ctx.scenario.funnel
        answered = (rng.random(n) < f.answer_rate) & ~unassigned
        engaged = answered & (rng.random(n) < f.engaged_share)
        duration = np.where(engaged, talk_time(rng, n, 140, 0.6), talk_time(rng, n, 7, 0.7))
        batch = CallBatch.build(
            t, target, np.zeros(n, np.int64), answered=answered, duration=duration,
            category=Category.SCAM,
        )  # fmt: skip
        batch.sip_status[~answered] = unanswered_statuses(rng, int((~answered).sum()))
        batch.sip_status[unassigned] = 404
        batch.to_carrier[:] = subscriber
        batch.stage[:] = np.where(engaged, int(Stage.NEIGHBOR), int(Stage.LIST_DIAL))
        self._assign_lines(c, batch)
        return batch

    def _assign_lines(self, c: Center, batch: CallBatch, line: I64 | None = None) -> None:
        rng, ctx = self.rng, self.ctx
        n = len(batch)
        if line is None:
            line = rng.integers(0, len(c.accounts), size=n)
        batch.sip_account[:] = c.accounts[line]
        batch.via_voip[:] = c.account_at_holder[line]
        day = ctx.day_of(batch.time, ctx.centers.utc_offset_hours) - c.first_day
        if self.cfg.ip_rotation_days > 0:
            slot = np.clip(day // self.cfg.ip_rotation_days, 0, None).astype(np.int64)
            per_slot = max(
                1,
                len(c.ips)
                // max(1, int(np.ceil((c.last_day - c.first_day) / self.cfg.ip_rotation_days))),
            )
            ip = (slot * per_slot + rng.integers(0, per_slot, size=n)) % len(c.ips)
        else:
            ip = (line + rng.integers(0, 2, size=n)) % len(c.ips)
        batch.source_ip[:] = c.ips[ip]
        batch.user_agent[:] = c.user_agent
        batch.network[:] = self.net
        batch.center[:] = c.index
        batch.category[:] = int(Category.SCAM)

    # ---------------------------------------------------------------------- journeys
    def _journeys(self, dials: CallBatch) -> tuple[CallBatch, Payment]:
        """Police, official and follow-up calls for the engaged, and their payments."""
        rng, ctx, f = self.rng, self.ctx, self.ctx.scenario.funnel
        engaged = np.flatnonzero((dials.stage == int(Stage.NEIGHBOR)) & dials.to_carrier)
        victims, first = np.unique(dials.callee[engaged], return_index=True)
        t_hook = dials.time[engaged][first]
        center_hook = dials.center[engaged][first].astype(np.int64)
        police = rng.random(len(victims)) < f.to_police
        official = police & (rng.random(len(victims)) < f.to_official)
        idx = np.searchsorted(self.pop.numbers, victims)
        account = self.pop.account_of[idx]
        pays = official & (account >= 0) & (rng.random(len(victims)) < f.pays)
        again = pays & (rng.random(len(victims)) < f.pays_again)

        t_police = (
            t_hook
            + rng.integers(1, 4, len(victims)) * DAY
            + rng.integers(-7200, 7200, len(victims))
        )
        t_official = (
            t_police
            + rng.integers(0, 3, len(victims)) * DAY
            + rng.integers(1800, 20000, len(victims))
        )
        t_pay = t_official + rng.integers(1800, 6 * 3600, len(victims))
        t_follow = t_pay + rng.integers(1, 5, len(victims)) * DAY
        t_pay2 = t_follow + rng.integers(1800, 8 * 3600, len(victims))

        end = ctx.t0 + ctx.days * DAY
        police &= t_police < end
        official &= police & (t_official < end)
        pays &= official & (t_pay < end)
        again &= pays & (t_pay2 < end)

        calls: list[CallBatch] = []
        for stage, mask, t, median in (
            (Stage.POLICE, police, t_police, 600),
            (Stage.OFFICIAL, official, t_official, 1200),
            (Stage.FOLLOWUP, again, t_follow, 400),
        ):
            sel = np.flatnonzero(mask)
            hand = rng.random(len(sel)) < self.cfg.cross_center_handoff
            local_of = {c.index: i for i, c in enumerate(self.centers)}
            center_local = np.array([local_of[int(x)] for x in center_hook[sel]], dtype=np.int64)
            center_local[hand] = rng.integers(0, len(self.centers), int(hand.sum()))
            n = len(sel)
            batch = CallBatch.build(
                t[sel], victims[sel], np.zeros(n, np.int64), answered=np.ones(n, bool),
                duration=talk_time(rng, n, median, 0.5), category=Category.SCAM,
            )  # fmt: skip
            batch.to_carrier[:] = True
            parts = []
            for ci, c in enumerate(self.centers):
                on = np.flatnonzero(center_local == ci)
                part = batch.take(on)
                self._assign_lines(c, part)
                parts.append(part)
            batch = CallBatch.concat(parts)
            batch.stage[:] = int(stage)
            calls.append(batch)

        def amounts(k: int) -> npt.NDArray[np.float64]:
            mu = np.log(f.payment_mean) - f.payment_sigma**2 / 2
            return np.asarray(rng.lognormal(mu, f.payment_sigma, size=k), dtype=np.float64)

        p1, p2 = np.flatnonzero(pays), np.flatnonzero(again)
        payment = Payment(
            victim=np.concatenate([idx[p1], idx[p2]]).astype(np.int64),
            time=np.concatenate([t_pay[p1], t_pay2[p2]]),
            amount_eur=np.concatenate([amounts(len(p1)), amounts(len(p2)) * 0.6]),
            network=np.full(len(p1) + len(p2), self.net, np.int16),
        )
        return CallBatch.concat(calls), payment

    # ------------------------------------------------------------------ caller IDs
    def _caller_ids(self, batch: CallBatch) -> npt.NDArray[np.int8]:
        """Fill ``caller_shown`` line by line; returns the spoofing strategy of each call."""
        rng, ctx, ids = self.rng, self.ctx, self.cfg.caller_ids
        plan = ctx.victim
        n = len(batch)
        weights = np.array([ids.per_call_random, ids.rotate_every_few, ids.fixed_for_days])
        lines, line_of = np.unique(batch.sip_account, return_inverse=True)
        strategy_of_line = rng.choice(3, size=len(lines), p=weights / weights.sum())
        strategy = strategy_of_line[line_of].astype(np.int8)
        order = np.lexsort((batch.time, line_of))
        rank = np.empty(n, np.int64)
        line_sorted = line_of[order]
        starts = np.flatnonzero(np.r_[True, line_sorted[1:] != line_sorted[:-1]])
        counts = np.diff(np.r_[starts, n])
        rank[order] = np.arange(n) - np.repeat(starts, counts)
        every = rng.geometric(1 / ids.rotate_calls_mean, size=len(lines))[line_of]
        days = np.maximum(1, rng.geometric(1 / ids.fixed_days_mean, size=len(lines)))[line_of]
        epoch = np.where(strategy == 0, rank, np.where(strategy == 1, rank // every,
                         ctx.day_of(batch.time, plan.utc_offset_hours) // days))  # fmt: skip
        keys = line_of.astype(np.int64) * (1 << 32) + epoch
        uniq, key_of = np.unique(keys, return_inverse=True)
        land = rng.random(len(uniq)) < 0.3
        nsn = random_nsn(list(plan.mobile), rng, len(uniq))
        nsn[land] = random_nsn(list(plan.landline), rng, int(land.sum()))
        shown = to_e164(plan.calling_code, nsn)
        if ids.foreign_share > 0:
            # That share of the lines exactly (a network has few), drawn on a stream of its own
            # so that a world without the tactic stays the same world.
            k = int(np.floor(ids.foreign_share * len(lines) + 0.5))
            picked = self.ctx.rng(f"foreign-caller-ids-{self.net}").permutation(len(lines))[:k]
            foreign = np.isin(uniq >> 32, picked)
            home = ctx.centers
            shown[foreign] = to_e164(
                home.calling_code, random_nsn(list(home.mobile), rng, int(foreign.sum()))
            )
        batch.caller_shown[:] = shown[key_of]
        # Police and officials call from numbers that look like official lines.
        official = np.isin(batch.stage, [int(Stage.POLICE), int(Stage.OFFICIAL)])
        looks = official & (rng.random(n) < 0.6)
        lookalikes = np.array([int(x.lstrip("+")) for x in plan.official_lookalikes], np.int64)
        batch.caller_shown[looks] = lookalikes[rng.integers(0, len(lookalikes), int(looks.sum()))]
        strategy[looks] = 3
        batch.caller_shown[rng.random(n) < 0.01] = 0
        return strategy

    def build(self) -> ScamOutput:
        dials = CallBatch.concat([self._list_dial(c) for c in self.centers])
        stages, payments = self._journeys(dials)
        calls = CallBatch.concat([dials, stages])
        strategy = self._caller_ids(calls)
        return ScamOutput(calls, self.centers, payments, strategy)


def _center_at_holder(ctx: WorldContext, index: int) -> bool:
    """Whether center ``index`` (global) has its lines at the held provider: all do unless
    ``center_coverage`` is set; then that share of all centers, rounded half up and at least
    one, drawn from the seed on a stream of its own, so that the rest of the world is the
    world without the knob."""
    coverage = ctx.scenario.center_coverage
    if coverage is None:
        return True
    total = sum(n.centers for n in ctx.scenario.networks)
    seen = max(1, min(total, int(np.floor(coverage * total + 0.5))))
    return index in ctx.rng("center-coverage").permutation(total)[:seen]


def _ips_in_one_block(
    ctx: WorldContext, rng: np.random.Generator, n: int, seed_block: int
) -> tuple[list[str], list[str]]:
    from scamtrace.simulate.numbering import ip_blocks

    blocks = ip_blocks(ctx.centers.code)
    which = np.full(n, seed_block % len(blocks), dtype=np.int64)
    addresses, block_of = random_ipv4(ctx.centers.code, rng, n, which)
    return [str(a) for a in addresses.to_pylist()], [blocks[int(b)].asn_name for b in block_of]
