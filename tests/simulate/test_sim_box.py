"""The SIM-box typology and its domestic look-alikes, as the simulator draws them."""

from __future__ import annotations

import numpy as np
import pytest

from scamtrace.simulate.calls import Category
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.population import ONNET_TRUNK
from scamtrace.simulate.typologies.sim_box import SIM_BOX
from scamtrace.simulate.world import World, build_world


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(load_scenario("simbox", seed=1, scale=0.02))


def _sim_calls(world: World) -> np.ndarray:
    return np.flatnonzero(
        (world.calls.category == int(Category.SCAM)) & (world.spoof_strategy == SIM_BOX)
    )


def test_sim_box_calls_are_domestic_real_numbers_with_no_voip_record(world: World) -> None:
    calls, reg = world.calls, world.ctx.registry
    sim = _sim_calls(world)
    assert len(sim) > 1000
    assert not calls.via_voip[sim].any()  # the VoIP leg is not at the held provider
    home = reg.country(world.ctx.victim.code)
    assert (calls.ingress_country[sim] == home).all()
    trunks = np.array(reg.trunks)[calls.trunk[sim]]
    assert all(t == ONNET_TRUNK or t.startswith("IC-") for t in set(trunks.tolist()))
    assert (calls.caller_shown[sim] // 10**11 == 86).all()  # mobiles of the victims' country
    # both networks' centers, some of them still spoofing over VoIP
    scam = calls.category == int(Category.SCAM)
    assert set(calls.network[sim].tolist()) == {0, 1}
    assert (calls.via_voip & scam).any()


def test_sims_are_swapped_after_a_few_dozen_calls_from_packs_of_close_numbers(
    world: World,
) -> None:
    calls = world.calls
    sim = _sim_calls(world)
    numbers, per_sim = np.unique(calls.caller_shown[sim], return_counts=True)
    cfg = world.scenario.networks[0].sim_box
    assert per_sim.max() <= cfg.calls_per_sim[1]
    assert np.median(per_sim) >= cfg.calls_per_sim[0] / 2
    # most SIMs have a neighbour within a hundred numbers (a prepaid pack)
    gaps = np.diff(np.sort(numbers))
    near = np.r_[gaps <= 100, False] | np.r_[False, gaps <= 100]
    assert near.mean() > 0.9
    # a SIM is used for days, not weeks
    order = np.argsort(calls.caller_shown[sim], kind="stable")
    t, n = calls.time[sim][order], calls.caller_shown[sim][order]
    first = np.flatnonzero(np.r_[True, n[1:] != n[:-1]])
    life = np.maximum.reduceat(t, first) - np.minimum.reduceat(t, first)
    assert np.median(life) < 3 * 86400


def test_sims_never_answer_and_only_call_out(world: World) -> None:
    calls = world.calls
    sims = np.unique(calls.caller_shown[_sim_calls(world)])
    to_sim = np.isin(calls.callee, sims)
    assert to_sim.sum() > 20  # victims call back the on-net ones
    assert not calls.answered[to_sim].any()
    # the call-backs are honest calls of people, not part of the fraud
    assert (calls.category[to_sim] == int(Category.NORMAL)).all()


def test_the_look_alikes_behave_as_people_do(world: World) -> None:
    calls = world.calls
    for category in (Category.SALES_TEAM, Category.ROAMER, Category.DRIVER):
        assert (calls.category == int(category)).sum() > 100, category
    # sales lines and drivers are called back and answer; roamers' own numbers come from abroad
    for category in (Category.SALES_TEAM, Category.DRIVER):
        mine = calls.category == int(category)
        lines, n = np.unique(calls.caller_shown[mine], return_counts=True)
        lines = lines[n >= 20]
        back = mine & np.isin(calls.callee, lines)
        assert back.any() and calls.answered[back].mean() > 0.6, category
    # some sales teams are new: their lines are young when the case ends, as SIMs are
    sales = calls.category == int(Category.SALES_TEAM)
    lines, n = np.unique(calls.caller_shown[sales], return_counts=True)
    young = world.ctx.t0 + (world.ctx.days - 21) * 86400
    first = {x: calls.time[sales][calls.caller_shown[sales] == x].min() for x in lines[n >= 20]}
    assert any(t >= young for t in first.values())
    roam = calls.category == int(Category.ROAMER)
    home = world.ctx.registry.country(world.ctx.victim.code)
    abroad = roam & (calls.ingress_country != home)
    assert abroad.any() and (roam & ~abroad).any()
    assert np.isin(calls.caller_shown[abroad], world.population.numbers).all()


def test_same_seed_same_sim_boxes() -> None:
    a = build_world(load_scenario("simbox", seed=3, scale=0.01))
    b = build_world(load_scenario("simbox", seed=3, scale=0.01))
    assert np.array_equal(a.calls.caller_shown, b.calls.caller_shown)
    assert np.array_equal(a.spoof_strategy, b.spoof_strategy)
