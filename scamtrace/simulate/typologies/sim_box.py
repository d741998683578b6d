"""SIM boxes: the same centers and script, with the calls leaving through GoIP-style gateways in
the victims' country instead of spoofed caller IDs from abroad.

Gangs moved here when carriers began blocking local caller IDs arriving on international trunks.
A center feeds a gateway of 8 to 64 SIM slots over the internet (that VoIP leg is not at the
provider that holds the case's data); each call leaves on a real prepaid SIM of the victims'
country and reaches the victims' carrier on a domestic mobile trunk, showing the SIM's own
number. SIMs are bought in prepaid batches of close numbers, loaded as they are needed and
swapped after a few dozen calls (before the operators' fraud systems block them), so each line
lives days at most, only calls out, and never answers: victims who call a missed or suspicious
number back hear nothing. The victims it reaches go through the same script and pay the
network's mules as any other victims.

Centers inside the victims' own country (``NetworkConfig.domestic``) look the same to the
victims' carrier: they dial from local prepaid SIMs on site, with no VoIP leg at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.calls import CallBatch, Category, to_e164, unanswered_statuses
from scamtrace.simulate.config import NetworkConfig
from scamtrace.simulate.context import WorldContext
from scamtrace.simulate.numbering import random_nsn
from scamtrace.simulate.population import DOMESTIC_TRUNKS, ONNET_TRUNK
from scamtrace.simulate.typologies.safe_account import SPOOF_STRATEGIES, Center

I64 = npt.NDArray[np.int64]

#: Role of SIM-box numbers in the ground truth (``truth/entities.csv``).
SIM_BOX = SPOOF_STRATEGIES.index("sim_box")


class SimBoxGateways:
    """The SIM boxes of one network's centers that use them (``NetworkConfig.sim_box``)."""

    def __init__(self, ctx: WorldContext, network_index: int, cfg: NetworkConfig,
                 centers: list[Center]) -> None:  # fmt: skip
        self.ctx = ctx
        self.cfg = cfg.sim_box
        # Its own random stream: a world without SIM boxes draws exactly what it drew before.
        self.rng = ctx.rng(f"sim-box-{network_index}-{cfg.name}")
        # Centers inside the victims' country call on local SIMs, every one of them.
        share = 1.0 if cfg.domestic else self.cfg.share
        n = round(share * len(centers))
        if share > 0:
            n = max(1, n)
        pick = self.rng.choice(len(centers), size=n, replace=False) if n else np.zeros(0, int)
        self.centers = [centers[int(i)] for i in np.sort(pick)]

    def route(self, calls: CallBatch, strategy: npt.NDArray[np.int8]) -> CallBatch:
        """Move the calls of the SIM-box centers onto SIMs (in place); return the victims'
        call-backs to those SIMs that reach the victims' carrier (never answered)."""
        backs = [self._center(c, calls, strategy) for c in self.centers]
        return CallBatch.concat(backs)

    def _center(self, c: Center, calls: CallBatch, strategy: npt.NDArray[np.int8]) -> CallBatch:
        rng, cfg, ctx = self.rng, self.cfg, self.ctx
        mine = np.flatnonzero(calls.center == c.index)
        mine = mine[np.argsort(calls.time[mine], kind="stable")]
        n = len(mine)
        if n == 0:
            return CallBatch.empty()
        # The slots a center keeps busy follow its call volume, so a SIM lives as long (in
        # days) in a small world as in a full one.
        ports = int(rng.integers(cfg.ports[0], cfg.ports[1] + 1))
        in_use = int(np.clip(round(ports * ctx.scenario.scale), min(2, ports), ports))
        port = rng.integers(0, in_use, n)
        sim_key = np.zeros(n, np.int64)
        for p in range(in_use):
            on = np.flatnonzero(port == p)  # already in time order
            lives = rng.integers(cfg.calls_per_sim[0], cfg.calls_per_sim[1] + 1,
                                 size=len(on) // cfg.calls_per_sim[0] + 1)  # fmt: skip
            sim_key[on] = p * (1 << 20) + np.searchsorted(np.cumsum(lives), np.arange(len(on)),
                                                          side="right")  # fmt: skip
        # SIMs are taken from the batches in the order the slots need them.
        keys, first, sim_of = np.unique(sim_key, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        loaded = np.empty(len(keys), np.int64)
        loaded[order] = np.arange(len(keys))
        numbers, onnet, operator = self._batches(len(keys))
        sim_number, sim_onnet, sim_trunk = numbers[loaded], onnet[loaded], operator[loaded]
        trunk = np.array([ctx.registry.trunk(t) for t in (ONNET_TRUNK, *DOMESTIC_TRUNKS)],
                         np.int16)  # fmt: skip

        calls.caller_shown[mine] = sim_number[sim_of]
        calls.via_voip[mine] = False
        calls.trunk[mine] = np.where(sim_onnet[sim_of], trunk[0], trunk[1 + sim_trunk[sim_of]])
        calls.ingress_country[mine] = ctx.registry.country(ctx.victim.code)
        strategy[mine] = SIM_BOX

        # People call back a missed call from a local mobile, and some call back a caller who
        # frightened them; only calls to SIMs of the victims' own carrier reach its records.
        reached = calls.to_carrier[mine] & sim_onnet[sim_of]
        p_back = np.where(calls.answered[mine], cfg.callback_answered, cfg.callback_missed)
        back = np.flatnonzero(reached & (rng.random(n) < p_back))
        t = calls.time[mine[back]] + np.rint(rng.lognormal(np.log(1800), 1.2, len(back)))
        out = CallBatch.build(t.astype(np.int64), sim_number[sim_of[back]],
                              calls.callee[mine[back]])  # fmt: skip
        out.sip_status[:] = unanswered_statuses(rng, len(back))
        out.category[:] = int(Category.NORMAL)
        out.to_carrier[:] = True
        out.trunk[:] = trunk[0]
        out.ingress_country[:] = ctx.registry.country(ctx.victim.code)
        return out

    def _batches(self, sims: int) -> tuple[I64, npt.NDArray[np.bool_], I64]:
        """``sims`` numbers, batch after batch: each batch a run of close mobile numbers (a
        prepaid pack, with gaps where the pack's other cards were sold elsewhere) of one
        operator, the victims' carrier (``onnet``) or another (index into ``DOMESTIC_TRUNKS``)."""
        rng, cfg, plan = self.rng, self.cfg, self.ctx.victim
        numbers: list[I64] = []
        onnet: list[npt.NDArray[np.bool_]] = []
        operator: list[I64] = []
        total = 0
        while total < sims:
            size = int(rng.integers(cfg.batch_sims[0], cfg.batch_sims[1] + 1))
            base = (random_nsn(list(plan.mobile), rng, 1)[0] // 1000) * 1000
            offsets = np.sort(rng.choice(2 * size, size=size, replace=False))
            numbers.append(to_e164(plan.calling_code, base + offsets))
            onnet.append(np.full(size, rng.random() < cfg.onnet_share))
            operator.append(np.full(size, rng.integers(0, len(DOMESTIC_TRUNKS)), np.int64))
            total += size
        return (np.concatenate(numbers)[:sims], np.concatenate(onnet)[:sims],
                np.concatenate(operator)[:sims])  # fmt: skip
