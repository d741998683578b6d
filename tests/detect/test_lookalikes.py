"""Honest look-alikes on the VoIP side (issue 15): wholesale carriers and calling-card resellers,
whose few accounts carry thousands of customers' own caller IDs from residential addresses, and
company PBX trunks presenting each employee's direct number. To a naive eye both are diallers
rotating local-looking caller IDs. None of their accounts, addresses, customers' numbers or
callees may be flagged, and the fraud beside them is found as well as without them."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.detect.runner import detect
from scamtrace.detect.settings import DetectSettings
from scamtrace.evaluate import evaluate
from scamtrace.simulate.calls import Category, digit_count
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.render import e164_text
from scamtrace.simulate.world import World, build_world, write_world

#: Small worlds of two presets and several seeds: a look-alike that slips through on one seed
#: is not hidden by the others.
WORLDS = (("small", 1, 0.02), ("small", 2, 0.02), ("hard", 3, 0.03))
LOOKALIKES = (Category.WHOLESALE_VOIP, Category.COMPANY_PBX)
KINDS = ("sip_account", "source_ip", "caller_number", "victim_phone")

Detected = tuple[World, Path, Path]


@pytest.fixture(scope="module", params=WORLDS, ids=lambda w: f"{w[0]}-{w[1]}")
def detected(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Detected:
    preset, seed, scale = request.param
    world = build_world(load_scenario(preset, seed=seed, scale=scale))
    root = tmp_path_factory.mktemp(f"lookalikes-{preset}-{seed}")
    write_world(world, root / "case")
    detect(root / "case", root / "findings")
    return world, root / "case", root / "findings"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _entities_of(world: World, category: Category) -> dict[str, set[str]]:
    """The accounts, addresses, presented numbers and callees of one honest population."""
    calls, reg = world.calls, world.ctx.registry
    own = calls.category == int(category)
    reached = own & calls.to_carrier
    return {
        "sip_account": set(np.array(reg.sip_accounts)[np.unique(calls.sip_account[own])]),
        "source_ip": set(np.array(reg.ips)[np.unique(calls.source_ip[own])]),
        "caller_number": set(e164_text(np.unique(calls.caller_shown[reached])).to_pylist()),
        "victim_phone": set(e164_text(np.unique(calls.callee[reached])).to_pylist()),
    }


@pytest.mark.parametrize("category", LOOKALIKES, ids=lambda c: c.name.lower())
def test_no_account_address_number_or_callee_of_a_lookalike_is_flagged(
    detected: Detected, category: Category
) -> None:
    world, case, findings = detected
    truth: dict[str, set[str]] = {k: set() for k in KINDS}
    for r in _rows(case / "truth" / "entities.csv"):
        truth.setdefault(r["kind"], set()).add(r["value"])
    flagged: dict[str, set[str]] = {k: set() for k in KINDS}
    for r in _rows(findings / "entities.csv"):
        if float(r["score"]) >= FLAG_THRESHOLD:
            flagged.setdefault(r["kind"], set()).add(r["value"])
    for kind, values in _entities_of(world, category).items():
        # A relative of a customer may also be a victim of the fraud: that one is no look-alike.
        honest = values - truth[kind]
        assert honest, kind
        wrongly = sorted(honest & flagged[kind])
        assert not wrongly, (category.name, kind, len(wrongly), len(honest), wrongly[:5])


def test_the_lookalikes_look_like_diallers_to_the_naive_eye(detected: Detected) -> None:
    """Without this the test above would prove nothing: the reseller shows more caller IDs
    local to its callees than the heavy-rotation bar, a branch's PBX more than the rotation
    bar, each to more callees than a dialling list needs."""
    world, _, _ = detected
    s = DetectSettings()
    calls, victim = world.calls, world.ctx.victim
    width = np.maximum(digit_count(calls.caller_shown) - len(str(victim.calling_code)), 0)
    local = calls.to_carrier & (calls.caller_shown // 10**width == victim.calling_code)
    for category, least in ((Category.WHOLESALE_VOIP, s.heavy_rotation_ids),
                            (Category.COMPANY_PBX, s.rotation_min_ids)):  # fmt: skip
        sel = local & (calls.category == int(category))
        most = max(len(np.unique(calls.caller_shown[sel & (calls.sip_account == a)]))
                   for a in np.unique(calls.sip_account[sel]))  # fmt: skip
        assert most >= least, category.name


def test_fraud_is_found_as_well_beside_the_lookalikes(detected: Detected) -> None:
    # Before the look-alikes (main at 413bad3) these worlds scored 1.000 on lines, addresses
    # and presented numbers, and 0.998-1.000 on victims.
    _, case, findings = detected
    f1 = {k: round(m.f1, 3) for k, m in evaluate(findings, case).kinds.items()}
    assert all(f1[k] >= 0.99 for k in ("sip_account", "source_ip", "caller_number")), f1
    assert f1["victim_phone"] >= 0.98, f1


def test_a_branch_pbx_is_no_spoofer_to_the_carrier_alone(detected: Detected,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """Seen by the victims' carrier alone, with no VoIP record to name the line, a branch's
    direct numbers still arrive from abroad as one range of numbers holding conversations. A
    firm of whose range only one or two numbers call in the case cannot be told from a spoofer
    by the carrier: a few such numbers stay (without the range rule a tenth of them were
    flagged, 434 of 3,943 on small seed 1 at scale 0.05)."""
    world, case, _ = detected
    alone = tmp_path / "carrier-only"
    alone.mkdir()
    for name in ("carrier_cdr.parquet", "reports.parquet", "holder.json"):
        shutil.copy(case / name, alone / name)
    detect(alone, tmp_path / "findings")
    truth = {r["value"] for r in _rows(case / "truth" / "entities.csv")
             if r["kind"] == "caller_number"}  # fmt: skip
    flagged = {r["value"] for r in _rows(tmp_path / "findings" / "entities.csv")
               if r["kind"] == "caller_number" and float(r["score"]) >= FLAG_THRESHOLD}  # fmt: skip
    local = f"+{world.ctx.victim.calling_code}"
    dids = {n for n in _entities_of(world, Category.COMPANY_PBX)["caller_number"] - truth
            if n.startswith(local)}  # fmt: skip
    assert dids and len(dids & flagged) <= 0.02 * len(dids), sorted(dids & flagged)
    # The spoofers beside them are still found. Only the local-looking ones: foreign numbers
    # rotated from abroad (hard, after the block) need the VoIP records to be told apart from
    # any stranger's call.
    spoofed = {n for n in truth if n.startswith(local)}
    assert len(flagged & spoofed) >= 0.9 * len(spoofed)
