"""Money mules: where the victims' 'safe account' deposits go.

Victims pay into first-layer mules: fresh personal accounts opened by recruited holders in the
victims' country, used for a few weeks each. Each deposit is forwarded within hours to a
second-layer account, which cashes out at ATMs in many small withdrawals or sends the money
abroad to accounts in the centers' country.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scamtrace.simulate.banking import AccountRole, Channel, Ledger, TransferKind
from scamtrace.simulate.config import NetworkConfig
from scamtrace.simulate.context import DAY, WorldContext
from scamtrace.simulate.population import Population
from scamtrace.simulate.typologies.safe_account import Payment

I64 = npt.NDArray[np.int64]
CONCURRENT_MULES = 4
ATM_LIMIT_EUR = 2500.0


class MuleChain:
    """The laundering chain of one network."""

    def __init__(
        self, ctx: WorldContext, network_index: int, cfg: NetworkConfig, population: Population
    ) -> None:
        self.ctx = ctx
        self.net = network_index
        self.cfg = cfg
        self.pop = population
        self.rng = ctx.rng(f"mules-{network_index}-{cfg.name}")

    def launder(self, ledger: Ledger, payments: Payment, victim_accounts: I64) -> None:
        rng, ctx, cfg = self.rng, self.ctx, self.cfg
        rate = ctx.victim.eur_rate
        if len(payments.time) == 0:
            return
        order = np.argsort(payments.time, kind="stable")
        t_pay = payments.time[order]
        amount = payments.amount_eur[order] * rate
        payer = victim_accounts[order]
        victim_phone = self.pop.numbers[payments.victim[order]]
        n_pay = len(t_pay)

        # Layer 1: fresh personal accounts, used in overlapping waves.
        n1 = max(CONCURRENT_MULES, int(np.ceil(n_pay / 100 * cfg.mules_layer1_per_100_payers)))
        waves = int(np.ceil(n1 / CONCURRENT_MULES))
        wave_of_pay = np.minimum((np.arange(n_pay) * waves) // n_pay, waves - 1)
        mule_of_pay = np.minimum(
            wave_of_pay * CONCURRENT_MULES + rng.integers(0, CONCURRENT_MULES, n_pay), n1 - 1
        )
        first_use = np.full(n1, np.iinfo(np.int64).max)
        np.minimum.at(first_use, mule_of_pay, t_pay)
        first_use[first_use == np.iinfo(np.int64).max] = t_pay[0]
        opened = (first_use - ctx.t0) // DAY - rng.integers(3, 30, n1)
        holders = Population.offnet_numbers(ctx, rng, n1)
        recruited = rng.random(n1) < 0.4
        holders[recruited] = self.pop.numbers[self.pop.sample(rng, int(recruited.sum()), False)]
        layer1 = ledger.open_accounts(
            ctx.victim.code, holders, 20_000_000 + self.net * 100_000 + np.arange(n1), opened,
            AccountRole.MULE_LAYER1, network=self.net,
        )  # fmt: skip
        channel = rng.choice([0, 1, 2], size=n_pay, p=[0.5, 0.3, 0.2]).astype(np.int8)
        cents = np.rint(amount * 100).astype(np.int64)
        ledger.transfer(t_pay, payer, layer1[mule_of_pay], cents, channel,
                        kind=TransferKind.VICTIM_PAYMENT, network=self.net,
                        victim_phone=victim_phone)  # fmt: skip

        # Layer 2: a few older business accounts that collect from many first-layer mules.
        n2 = int(rng.integers(cfg.mules_layer2[0], cfg.mules_layer2[1] + 1))
        holders2 = Population.offnet_numbers(ctx, rng, n2)
        layer2 = ledger.open_accounts(
            ctx.victim.code, holders2, 21_000_000 + self.net * 1000 + np.arange(n2),
            -rng.integers(60, 700, n2), AccountRole.MULE_LAYER2, business=True, network=self.net,
        )  # fmt: skip
        l2_of_mule = rng.integers(0, n2, n1)
        t_fwd = t_pay + rng.integers(1200, 8 * 3600, n_pay)
        fwd_cents = np.rint(cents * rng.uniform(0.96, 0.995, n_pay)).astype(np.int64)
        l2 = l2_of_mule[mule_of_pay]
        ledger.transfer(t_fwd, layer1[mule_of_pay], layer2[l2], fwd_cents, Channel.ONLINE,
                        kind=TransferKind.LAYERING, network=self.net)  # fmt: skip

        # Cash-out: international transfers abroad, or many ATM withdrawals under the limit.
        n_out = int(rng.integers(cfg.cash_out_accounts[0], cfg.cash_out_accounts[1] + 1))
        beneficiaries = ledger.open_accounts(
            ctx.centers.code, np.zeros(n_out, np.int64),
            22_000_000 + self.net * 1000 + np.arange(n_out), -np.full(n_out, 400),
            AccountRole.CASH_OUT, listed=False, network=self.net,
        )  # fmt: skip
        abroad = rng.random(n_pay) < 0.5
        t_out = t_fwd + rng.integers(3600, 30 * 3600, n_pay)
        a = np.flatnonzero(abroad)
        ledger.transfer(t_out[a], layer2[l2[a]], beneficiaries[rng.integers(0, n_out, len(a))],
                        np.rint(fwd_cents[a] * 0.99).astype(np.int64), Channel.INTERNATIONAL,
                        kind=TransferKind.CASH_OUT, network=self.net)  # fmt: skip
        b = np.flatnonzero(~abroad)
        pieces = np.maximum(1, np.ceil(fwd_cents[b] / (ATM_LIMIT_EUR * rate * 100))).astype(int)
        src = np.repeat(b, pieces)
        each = np.repeat(fwd_cents[b] // pieces, pieces)
        t_atm = np.repeat(t_out[b], pieces) + rng.integers(0, 3 * DAY, len(src))
        ledger.transfer(t_atm, layer2[l2[src]], np.full(len(src), -1), each, Channel.ATM,
                        kind=TransferKind.CASH_OUT, network=self.net)  # fmt: skip
