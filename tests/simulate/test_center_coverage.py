"""Provider coverage by center: a share of the centers has every line at the held VoIP
provider, the others none; unseen centers still call victims and still pay their mules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scamtrace.cli import app
from scamtrace.core.errors import ScenarioError
from scamtrace.simulate.calls import Category
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.world import build_world

runner = CliRunner()


def test_full_coverage_is_the_preset_world() -> None:
    plain = build_world(load_scenario("hard", seed=4, scale=0.01))
    full = build_world(load_scenario("hard", seed=4, scale=0.01, center_coverage=1.0))
    assert np.array_equal(plain.calls.time, full.calls.time)
    assert np.array_equal(plain.calls.via_voip, full.calls.via_voip)
    assert np.array_equal(plain.calls.caller_shown, full.calls.caller_shown)


@pytest.mark.parametrize("coverage", [0.75, 0.5, 0.25])
def test_a_share_of_whole_centers_is_seen(coverage: float) -> None:
    world = build_world(load_scenario("small", seed=2, scale=0.01, center_coverage=coverage))
    seen = [c for c in world.centers if c.account_at_holder.any()]
    assert len(seen) == int(np.floor(coverage * len(world.centers) + 0.5))
    calls = world.calls
    scam = calls.category == int(Category.SCAM)
    for c in world.centers:
        mine = scam & (calls.center == c.index)
        assert calls.to_carrier[mine].any()  # the victims' carrier sees every center
        assert calls.via_voip[mine].any() == (c in seen)
    # the same seed picks the same centers
    again = build_world(load_scenario("small", seed=2, scale=0.01, center_coverage=coverage))
    assert [c.label for c in again.centers if c.account_at_holder.any()] == [c.label for c in seen]


def test_unseen_networks_still_pay_their_mules() -> None:
    world = build_world(load_scenario("hard", seed=1, scale=0.05, center_coverage=0.25))
    seen_networks = {c.network for c in world.centers if c.account_at_holder.any()}
    unseen = {c.network for c in world.centers} - seen_networks
    assert unseen, "seed 1 at 25% leaves a whole network unseen"
    scam = world.calls.category == int(Category.SCAM)
    for net in unseen:
        theirs = scam & (world.calls.network == net)
        assert theirs.any() and not world.calls.via_voip[theirs].any()
        assert (world.ledger.transfers()["network"] == net).sum() > 0  # money still flows


@pytest.mark.parametrize("coverage", [0.0, 1.5])
def test_coverage_is_a_share(coverage: float) -> None:
    with pytest.raises(ScenarioError):
        load_scenario("small", center_coverage=coverage)


def test_simulate_coverage_option(tmp_path: Path) -> None:
    """`simulate --coverage 0.25`: a quarter of the centers leave VoIP records, rounded."""
    out = tmp_path / "case"
    result = runner.invoke(app, ["simulate", "--scenario", "small", "--scale", "0.01", "--seed",
                                 "7", "--coverage", "0.25", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    voip = pq.read_table(out / "voip_cdr.parquet", columns=["sip_account"])
    accounts = set(voip.column("sip_account").to_pylist())
    world = build_world(load_scenario("small", seed=7, scale=0.01, center_coverage=0.25))
    seen = [c for c in world.centers if c.account_at_holder.any()]
    assert len(seen) == 4  # 16 centers
    names = world.ctx.registry.sip_accounts
    for c in world.centers:
        mine = {names[int(a)] for a in c.accounts}
        assert bool(mine & accounts) == (c in seen), c.label
    bad = runner.invoke(app, ["simulate", "--coverage", "1.5", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "--coverage" in str(bad.exception)
