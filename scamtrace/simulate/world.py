"""A whole simulated world: build it from a scenario, write it as a contract case folder.

Building draws everything except the bulk of everyday calls, which are drawn week by week while
writing so that a full-scale world (tens of millions of calls) streams through bounded memory.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from scamtrace.core import contract
from scamtrace.core.casefolder import CaseFolderWriter, TableFormat
from scamtrace.simulate.banking import (
    CHANNELS,
    AccountRole,
    Ledger,
    TransferKind,
    account_numbers,
)
from scamtrace.simulate.calls import CallBatch, Category, Stage
from scamtrace.simulate.complaints import victim_complaints
from scamtrace.simulate.config import Scenario
from scamtrace.simulate.confounders.company_pbx import CompanyPbx
from scamtrace.simulate.confounders.diaspora import Diaspora
from scamtrace.simulate.confounders.drivers import Drivers
from scamtrace.simulate.confounders.foreign_call_center import ForeignCallCenter
from scamtrace.simulate.confounders.merchants import Landlords, Merchants
from scamtrace.simulate.confounders.new_accounts import NewAccountPayees
from scamtrace.simulate.confounders.purchasing_agents import PurchasingAgents
from scamtrace.simulate.confounders.roamers import Roamers
from scamtrace.simulate.confounders.sales_team import SalesTeam
from scamtrace.simulate.confounders.telemarketer import Telemarketer
from scamtrace.simulate.confounders.voip_locals import VoipLocals
from scamtrace.simulate.confounders.wholesale_voip import WholesaleVoip
from scamtrace.simulate.context import DAY, WorldContext
from scamtrace.simulate.naive import NaiveRules
from scamtrace.simulate.population import Population, per_10k
from scamtrace.simulate.render import (
    E164,
    GROUPED,
    INTERNATIONAL,
    NATIONAL,
    e164_text,
    hex_ids,
    phone_text,
    prefixed_ids,
)
from scamtrace.simulate.transcripts import TranscriptSampler
from scamtrace.simulate.typologies.mule_chain import MuleChain
from scamtrace.simulate.typologies.safe_account import SPOOF_STRATEGIES, Center, SafeAccountScam
from scamtrace.simulate.typologies.sim_box import SimBoxGateways

I64 = npt.NDArray[np.int64]
CHUNK_DAYS = 7
ROLE_LABEL = {
    AccountRole.MULE_LAYER1: "layer1",
    AccountRole.MULE_LAYER2: "layer2",
    AccountRole.CASH_OUT: "cash_out",
}

Progress = Callable[[str, float], None]


@dataclass
class World:
    ctx: WorldContext
    population: Population
    calls: CallBatch  # every call except everyday calls, sorted by time
    spoof_strategy: npt.NDArray[np.int8]  # per call of ``calls`` (-1 for honest calls)
    centers: list[Center]
    ledger: Ledger

    @property
    def scenario(self) -> Scenario:
        return self.ctx.scenario


def build_world(scenario: Scenario) -> World:
    """Draw a world's people, fraud networks, confounders and money."""
    ctx = WorldContext(scenario)
    pop = Population(ctx)
    ledger = Ledger()
    holders, accounts = pop.open_accounts(ctx, ledger)
    pop.everyday_money(ctx, ledger, holders, accounts)
    Merchants(ctx, pop).money(ledger, accounts)
    Landlords(ctx, pop).money(ledger, accounts)
    NewAccountPayees(ctx, pop).money(ledger, accounts)
    PurchasingAgents(ctx, pop).money(ledger, accounts)

    from scamtrace.simulate.voip import route_international

    batches: list[CallBatch] = []
    strategies: list[npt.NDArray[np.int8]] = []
    centers: list[Center] = []
    for g, net in enumerate(scenario.networks):
        scam = SafeAccountScam(ctx, g, net, pop, first_center_index=len(centers))
        out = scam.build()
        route_international(ctx, ctx.rng(f"route-{g}"), out.calls)
        call_backs = SimBoxGateways(ctx, g, net, out.centers).route(out.calls, out.spoof_strategy)
        batches += [out.calls, call_backs]
        strategies += [out.spoof_strategy, np.full(len(call_backs), -1, np.int8)]
        centers.extend(out.centers)
        payer = pop.account_of[out.payments.victim]
        MuleChain(ctx, g, net, pop).launder(ledger, out.payments, payer)

    honest = [Diaspora(ctx, pop).calls(), VoipLocals(ctx, pop).calls()]
    honest += [ForeignCallCenter(ctx, pop, i).calls()
               for i in range(scenario.confounders.foreign_call_centers)]  # fmt: skip
    honest += [Telemarketer(ctx, pop, i).calls()
               for i in range(scenario.confounders.telemarketers)]  # fmt: skip
    honest += [WholesaleVoip(ctx, pop, i).calls()
               for i in range(scenario.confounders.wholesale_carriers)]  # fmt: skip
    honest += [CompanyPbx(ctx, pop, i).calls()
               for i in range(scenario.confounders.pbx_companies)]  # fmt: skip
    # Domestic look-alikes of SIM-box lines, in presets that ask for them.
    look = scenario.confounders
    if look.sales_teams_per_10k > 0:
        honest += [SalesTeam(ctx, pop, i).calls()
                   for i in range(per_10k(len(pop), look.sales_teams_per_10k))]  # fmt: skip
    if look.roamers_per_10k > 0:
        honest.append(Roamers(ctx, pop).calls())
    if look.drivers_per_10k > 0:
        honest.append(Drivers(ctx, pop).calls())
    for b in honest:
        batches.append(b)
        strategies.append(np.full(len(b), -1, np.int8))
    calls = CallBatch.concat(batches)
    strategy = np.concatenate(strategies)
    keep = (calls.time >= ctx.t0) & (calls.time < ctx.t0 + ctx.days * DAY)
    calls, strategy = calls.take(keep), strategy[keep]
    order = np.argsort(calls.time, kind="stable")
    return World(ctx, pop, calls.take(order), strategy[order], centers, ledger)


# ------------------------------------------------------------------------------- writing
@dataclass
class WriteResult:
    out: Path
    rows: dict[str, int]
    truth: dict[str, int]
    naive_rules: list[dict[str, Any]]
    loss_eur: float
    seconds: float


def write_world(
    world: World,
    out: Path,
    *,
    fmt: TableFormat = "parquet",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> WriteResult:
    """Write ``world`` as a case folder with ``truth/``; atomic: all or nothing."""
    started = time.perf_counter()
    ctx = world.ctx
    say = progress or (lambda _msg, _frac: None)
    with CaseFolderWriter(out, overwrite=overwrite, replaces=("truth", "holder.json"),
                          purpose="scamtrace simulate") as case:  # fmt: skip
        carrier_sink = case.sink(contract.CARRIER_CDR, fmt, ctx.victim.utc_offset_hours)
        voip_sink = case.sink(contract.VOIP_CDR, fmt, ctx.centers.utc_offset_hours)
        naive = NaiveRules(ctx)
        sampler = TranscriptSampler(ctx)
        truth_calls: list[pa.Table] = []
        rng = ctx.rng("render-calls")
        trunk_style = rng.integers(0, 4, size=64)
        n_voip = 0
        chunk_starts = list(range(0, ctx.days, CHUNK_DAYS))
        day_of_call = ctx.day_of(world.calls.time, ctx.victim.utc_offset_hours)
        bounds = np.searchsorted(day_of_call, [*chunk_starts, ctx.days])
        for i, first in enumerate(chunk_starts):
            last = min(ctx.days, first + CHUNK_DAYS)
            say(f"calls, days {first + 1}-{last} of {ctx.days}", i / len(chunk_starts))
            other = world.calls.take(slice(bounds[i], bounds[i + 1]))
            strategy = world.spoof_strategy[bounds[i] : bounds[i + 1]]
            normal = world.population.normal_calls(ctx, first, last)
            both = CallBatch.concat([other.take(other.to_carrier), normal])
            order = np.argsort(both.time, kind="stable")
            carrier = both.take(order)
            carrier_ids = prefixed_ids("C", carrier_sink.rows + 1, len(carrier), 10)
            carrier_sink.write(_carrier_table(world, carrier, carrier_ids, trunk_style, rng))
            naive.observe_carrier(carrier)
            sampler.observe(carrier, carrier_ids, "carrier_cdr")
            scam = carrier.category == int(Category.SCAM)
            truth_calls.append(_truth_calls("carrier_cdr", carrier_ids, carrier, scam))

            voip = other.take(other.via_voip)
            voip_ids = hex_ids(rng, len(voip))
            voip_sink.write(_voip_table(world, voip, voip_ids, rng))
            n_voip += len(voip)
            naive.observe_voip(voip)
            sampler.observe(voip, voip_ids, "voip_cdr")
            scam = voip.category == int(Category.SCAM)
            truth_calls.append(_truth_calls("voip_cdr", voip_ids, voip, scam))
            del strategy

        say("bank data", 0.9)
        account_ids = _account_ids(world)
        accounts_table, transfers_table, tx_ids, tcols = _bank_tables(world, account_ids)
        case.sink(contract.ACCOUNTS, fmt, ctx.victim.utc_offset_hours).write(accounts_table)
        case.sink(contract.TRANSFERS, fmt, ctx.victim.utc_offset_hours).write(transfers_table)
        naive.observe_transfers(tcols, account_ids)

        say("reports and transcripts", 0.95)
        complaints = victim_complaints(world, account_ids, tcols)
        case.sink(contract.COMPLAINTS, fmt, ctx.victim.utc_offset_hours).write(complaints)
        transcripts, transcript_kinds = sampler.render()
        case.write_csv_table("truth/transcripts.csv", transcript_kinds)
        case.sink(contract.TRANSCRIPTS, fmt, ctx.victim.utc_offset_hours).write(transcripts)

        say("ground truth", 0.98)
        case.write_json("holder.json", {
            "country": ctx.victim.code, "tables": {"voip_cdr": ctx.centers.code},
        })  # fmt: skip
        entities = _truth_entities(world, account_ids, tcols)
        case.write_csv_table("truth/entities.csv", entities)
        case.write_csv_table("truth/calls.csv", pa.concat_tables(truth_calls))
        fraud = tcols["kind"] >= 0
        case.write_csv_table("truth/transfers.csv", pa.table({
            "tx_id": tx_ids.filter(pa.array(fraud)),
            "network_id": _network_labels(tcols["network"][fraud]),
            "kind": pa.array(np.array([k.label for k in TransferKind if k.value >= 0])[
                tcols["kind"][fraud]]),
        }))  # fmt: skip
        naive_results = naive.evaluate(entities)
        paid = tcols["kind"] == int(TransferKind.VICTIM_PAYMENT)
        loss_eur = float(tcols["amount"][paid].sum() / 100 / ctx.victim.eur_rate)
        kinds = entities.column("kind").to_numpy(zero_copy_only=False)
        truth_counts = {k: int((kinds == k).sum()) for k in contract.TRUTH_ENTITY_KINDS}
        rows = {
            "carrier_cdr": carrier_sink.rows, "voip_cdr": n_voip,
            "accounts": accounts_table.num_rows, "transfers": transfers_table.num_rows,
            "reports": complaints.num_rows, "transcripts": transcripts.num_rows,
        }  # fmt: skip
        case.write_json("truth/scenario.json", {
            "scenario": json.loads(world.scenario.model_dump_json()),
            "centers": [_center_json(world, c) for c in world.centers],
            "rows": rows,
            "truth": truth_counts,
            "victims_paid": truth_counts["victim_paid"],
            "loss": {"eur": round(loss_eur, 2),
                     ctx.victim.currency: round(loss_eur * ctx.victim.eur_rate, 2)},
            "naive_rules": naive_results,
        })  # fmt: skip
    return WriteResult(out, rows, truth_counts, naive_results, loss_eur,
                       time.perf_counter() - started)  # fmt: skip


def _network_labels(net: npt.NDArray[np.integer]) -> pa.Array:
    labels = np.array([f"N{i + 1}" for i in range(int(net.max(initial=0)) + 1)] + [""])
    return pa.array(labels[np.where(net < 0, -1, net)])


def _center_labels(center: npt.NDArray[np.integer]) -> pa.Array:
    labels = np.array([f"C{i + 1:02d}" for i in range(int(center.max(initial=0)) + 1)] + [""])
    return pa.array(labels[np.where(center < 0, -1, center)])


def _center_json(world: World, c: Center) -> dict[str, Any]:
    ctx = world.ctx
    domestic = ctx.scenario.networks[c.network].domestic
    return {
        "center_id": c.label, "network_id": f"N{c.network + 1}",
        "country": ctx.victim.code if domestic else ctx.centers.code,
        "region": c.region, "operators": c.operators,
        "first_day": str(ctx.scenario.start + dt.timedelta(days=c.first_day)),
        "last_day": str(ctx.scenario.start + dt.timedelta(days=c.last_day - 1)),
        "sip_accounts": 0 if domestic else len(c.accounts),
        "source_ips": 0 if domestic else len(c.ips),
    }  # fmt: skip


def _carrier_table(
    world: World, calls: CallBatch, ids: pa.Array, trunk_style: I64, rng: np.random.Generator
) -> pa.Table:
    ctx = world.ctx
    reg = ctx.registry
    n = len(calls)
    plans = (ctx.victim, ctx.centers)
    # Each trunk's switch logs numbers its own way; international trunks never log nationally.
    intl = calls.ingress_country != reg.country(ctx.victim.code)
    style = trunk_style[calls.trunk % len(trunk_style)].astype(np.int8)
    style = np.where(intl & (style >= NATIONAL), (style - NATIONAL) % 2, style).astype(np.int8)
    withheld = rng.integers(4, 7, n).astype(np.int8)
    caller_style = np.where(calls.caller_shown == 0, withheld, style).astype(np.int8)
    called_style = np.where(rng.random(n) < 0.85, NATIONAL, E164).astype(np.int8)
    delay = rng.integers(1, 4, n)
    trunks = np.array([*reg.trunks, ""])
    countries = np.array(reg.countries)
    return pa.table({
        "call_id": ids,
        "start_time": pa.array((calls.time + delay) * 1_000_000, pa.int64()).cast(contract.TIME),
        "caller_number": phone_text(calls.caller_shown, caller_style, ctx.victim, plans),
        "called_number": phone_text(calls.callee, called_style, ctx.victim, plans),
        "duration_s": pa.array(calls.duration.astype(np.int64)),
        "answered": pa.array(calls.answered),
        "ingress_trunk": pa.array(trunks[calls.trunk]),
        "ingress_country": pa.array(countries[calls.ingress_country]),
        "attestation": pa.nulls(n, pa.string()).fill_null(""),
    })  # fmt: skip


def _voip_table(
    world: World, calls: CallBatch, ids: pa.Array, rng: np.random.Generator
) -> pa.Table:
    ctx = world.ctx
    reg = ctx.registry
    n = len(calls)
    plans = (ctx.victim, ctx.centers)
    drift = 2 + rng.integers(-1, 2, n)
    # The provider logs what its customers' clients sent: foreign numbers with + or 00,
    # home numbers nationally.
    style = np.where(rng.random(n) < 0.6, E164, INTERNATIONAL).astype(np.int8)
    home_from = np.where(rng.random(n) < 0.8, NATIONAL, GROUPED).astype(np.int8)
    from_style = np.where(calls.caller_shown == 0, rng.integers(4, 7, n), style).astype(np.int8)
    accounts = np.array(reg.sip_accounts)
    ips = np.array(reg.ips)
    uas = np.array([*reg.user_agents, ""])
    from_text = phone_text(calls.caller_shown, from_style, ctx.centers, plans)
    # Home-country caller IDs: national style (format_numbers keeps foreign ones international).
    from_home = phone_text(calls.caller_shown, home_from, ctx.centers, (ctx.centers,))
    is_home = _is_country(calls.caller_shown, ctx.centers.calling_code)
    return pa.table({
        "call_id": ids,
        "start_time": pa.array((calls.time + drift) * 1_000_000, pa.int64()).cast(contract.TIME),
        "sip_account": pa.array(accounts[calls.sip_account]),
        "source_ip": pa.array(ips[calls.source_ip]),
        "user_agent": pa.array(uas[calls.user_agent]),
        "from_number": pc.if_else(pa.array(is_home), from_home, from_text),
        "to_number": phone_text(calls.callee, style, ctx.centers, plans),
        "duration_s": pa.array(calls.duration.astype(np.int64)),
        "sip_status": pa.array(calls.sip_status.astype(np.int64)),
    })  # fmt: skip


def _is_country(numbers: I64, calling_code: int) -> npt.NDArray[np.bool_]:
    from scamtrace.simulate.calls import digit_count

    k = len(str(calling_code))
    width = np.maximum(digit_count(numbers) - k, 0)
    return np.asarray((numbers > 0) & (numbers // 10**width == calling_code))


def _truth_calls(
    source: str, ids: pa.Array, calls: CallBatch, scam: npt.NDArray[np.bool_]
) -> pa.Table:
    stages = np.array([s.label for s in Stage if s.value >= 0])
    sel = pa.array(scam)
    return pa.table({
        "source": pa.array(np.full(int(scam.sum()), source)),
        "call_id": ids.filter(sel),
        "network_id": _network_labels(calls.network[scam]),
        "center_id": _center_labels(calls.center[scam]),
        "stage": pa.array(stages[calls.stage[scam]]),
    })  # fmt: skip


# ----------------------------------------------------------------------------------- money
def _account_ids(world: World) -> pa.Array:
    """Account numbers for every ledger account, in ledger order."""
    ctx = world.ctx
    acc = world.ledger.accounts()
    rng = ctx.rng("account-numbers")
    out = np.empty(len(acc["country"]), dtype=object)
    for plan in (ctx.victim, ctx.centers):
        mask = acc["country"] == plan.code
        out[mask] = np.asarray(account_numbers(plan, rng, int(mask.sum())).to_pylist(), object)
    return pa.array(out, pa.string())


def cents_to_decimal(cents: I64) -> pa.Array:
    """Whole cents to the contract's decimal amounts, exactly (no floats on the way)."""
    text = pc.utf8_lpad(pc.cast(pa.array(cents, pa.int64()), pa.string()), 3, "0")
    whole = pc.utf8_slice_codeunits(text, 0, -2)
    frac = pc.utf8_slice_codeunits(text, -2, 2**31 - 1)
    return pc.binary_join_element_wise(whole, frac, ".").cast(contract.AMOUNT)


def _bank_tables(
    world: World, account_ids: pa.Array
) -> tuple[pa.Table, pa.Table, pa.Array, dict[str, Any]]:
    ctx = world.ctx
    acc = world.ledger.accounts()
    listed = acc["listed"].astype(bool)
    ids_np = np.asarray(account_ids.to_pylist(), dtype=object)
    rng = ctx.rng("render-bank")
    phone_style = np.where(rng.random(len(listed)) < 0.7, NATIONAL, E164).astype(np.int8)
    plans = (ctx.victim, ctx.centers)
    bank = pc.utf8_slice_codeunits(account_ids, 4, 8) if ctx.victim.iban else \
        pc.utf8_slice_codeunits(account_ids, 0, 6)  # fmt: skip
    opened = pa.array((ctx.t0 // DAY + acc["opened_day"]).astype(np.int32), pa.int32()).cast(
        pa.date32()
    )
    accounts = pa.table({
        "account_id": account_ids,
        "bank": bank,
        "country": pa.array(acc["country"].astype(str)),
        "holder_id": prefixed_ids("H", 0, len(listed), 9).take(
            pa.array(np.argsort(rng.permutation(len(listed))))),
        "holder_phone": phone_text(acc["holder_phone"], phone_style, ctx.victim, plans),
        "opened_on": opened,
        "kind": pa.array(np.where(acc["business"], "business", "personal")),
    }).filter(pa.array(listed))  # fmt: skip

    t = world.ledger.transfers()
    end = ctx.t0 + ctx.days * DAY
    keep = t["time"] < end
    t = {k: v[keep] for k, v in t.items()}
    n = len(t["time"])
    tx_ids = prefixed_ids("T", 1, n, 10)
    id_or_empty = np.append(ids_np, "")
    transfers = pa.table({
        "tx_id": tx_ids,
        "time": pa.array(t["time"] * 1_000_000, pa.int64()).cast(contract.TIME),
        "payer_account": pa.array(id_or_empty[t["payer"]].astype(str)),
        "payee_account": pa.array(id_or_empty[t["payee"]].astype(str)),
        "amount": cents_to_decimal(t["amount"]),
        "currency": pa.array(np.full(n, ctx.victim.currency)),
        "channel": pa.array(np.array(CHANNELS)[t["channel"]]),
    })  # fmt: skip
    return accounts, transfers, tx_ids, t


# ----------------------------------------------------------------------------------- truth
def _first_or_empty(
    keys: I64, labels: npt.NDArray[np.integer]
) -> tuple[I64, npt.NDArray[np.int64]]:
    """Per unique key: its label if all rows agree, else -1."""
    uniq, inv = np.unique(keys, return_inverse=True)
    lo = np.full(len(uniq), np.iinfo(np.int64).max)
    hi = np.full(len(uniq), np.iinfo(np.int64).min)
    np.minimum.at(lo, inv, labels.astype(np.int64))
    np.maximum.at(hi, inv, labels.astype(np.int64))
    return uniq, np.where(lo == hi, lo, -1)


def _entity_rows(
    kind: str,
    values: pa.Array,
    network: npt.NDArray[np.integer],
    center: npt.NDArray[np.integer],
    role: npt.NDArray[np.str_],
) -> pa.Table:
    n = len(values)
    return pa.table({
        "kind": pa.array(np.full(n, kind)),
        "value": values.cast(pa.string()),
        "network_id": _network_labels(np.asarray(network)),
        "center_id": _center_labels(np.asarray(center)),
        "role": pa.array(np.asarray(role, dtype=str)),
    })  # fmt: skip


def _truth_entities(world: World, account_ids: pa.Array, tcols: dict[str, Any]) -> pa.Table:
    calls = world.calls
    reg = world.ctx.registry
    scam = calls.category == int(Category.SCAM)
    seen = scam & (calls.to_carrier | calls.via_voip)
    held = scam & calls.via_voip
    tables: list[pa.Table] = []

    for kind, ids, names in (("sip_account", calls.sip_account, reg.sip_accounts),
                             ("source_ip", calls.source_ip, reg.ips)):  # fmt: skip
        keys, net = _first_or_empty(ids[held].astype(np.int64), calls.network[held])
        _, cen = _first_or_empty(ids[held].astype(np.int64), calls.center[held])
        role = "dialer" if kind == "sip_account" else "center_address"
        tables.append(_entity_rows(kind, pa.array(np.array(names)[keys]), net, cen,
                                   np.full(len(keys), role)))  # fmt: skip

    shown = seen & (calls.caller_shown != 0) & (calls.sip_status != 404)
    keys, net = _first_or_empty(calls.caller_shown[shown], calls.network[shown])
    _, cen = _first_or_empty(calls.caller_shown[shown], calls.center[shown])
    _, strat = _first_or_empty(calls.caller_shown[shown], world.spoof_strategy[shown])
    roles = np.array([*SPOOF_STRATEGIES, "mixed"])[np.where(strat < 0, -1, strat)]
    tables.append(_entity_rows("caller_number", e164_text(keys), net, cen, roles))

    answered = seen & calls.answered
    keys, net = _first_or_empty(calls.callee[answered], calls.network[answered])
    _, cen = _first_or_empty(calls.callee[answered], calls.center[answered])
    tables.append(_entity_rows("victim_phone", e164_text(keys), net, cen,
                               np.full(len(keys), "answered")))  # fmt: skip

    pay = tcols["kind"] == int(TransferKind.VICTIM_PAYMENT)
    keys, net = _first_or_empty(tcols["victim_phone"][pay], tcols["network"][pay])
    tables.append(_entity_rows("victim_paid", e164_text(keys), net, np.full(len(keys), -1),
                               np.full(len(keys), "paid")))  # fmt: skip

    acc = world.ledger.accounts()
    fraud = tcols["kind"] >= 0
    received = np.unique(tcols["payee"][fraud & (tcols["payee"] >= 0)])
    mule_roles = (AccountRole.MULE_LAYER1, AccountRole.MULE_LAYER2, AccountRole.CASH_OUT)
    mules = received[np.isin(acc["role"][received], [int(r) for r in mule_roles])]
    mule_role = np.array([ROLE_LABEL[AccountRole(int(r))] for r in acc["role"][mules]])
    values = account_ids.take(pa.array(mules))
    no_center = np.full(len(mules), -1)
    tables.append(_entity_rows("mule_account", values, acc["network"][mules], no_center, mule_role))
    return pa.concat_tables(tables)
