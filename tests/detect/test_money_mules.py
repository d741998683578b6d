"""Mule accounts from money alone: a bank with no call records still finds them.

The hand-made bank below holds one mule and three honest accounts that each share all but one
of its signals: a reseller passing its customers' money on within hours (ordinary purchases,
not savings), a shop owner sweeping takings to an account of their own (not passing anything on)
and three old business accounts paying each other in a circle.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from scamtrace.detect.runner import detect
from scamtrace.evaluate import evaluate
from scamtrace.ingest.amlsim import amlsim_sar_accounts
from scamtrace.ingest.pipeline import ingest
from scamtrace.simulate.config import load_scenario
from scamtrace.simulate.split import SINGLE_HOLDERS, single_holder_views
from scamtrace.simulate.world import build_world, write_world
from tests.detect.conftest import flagged, read_rows
from tests.ingest.test_amlsim import SAMPLE, needs_sample

T0 = dt.datetime(2016, 9, 1, 9, 0, tzinfo=dt.UTC)
MULE, COLLECTOR = "MULE", "COLLECTOR"
RESELLER, SUPPLIER = "RESELLER", "SUPPLIER"
SHOP, SHOP_OWN = "SHOP", "SHOP-OWN"
CIRCLE = ("CIRCLE-A", "CIRCLE-B", "CIRCLE-C")


def _bank(root: Path) -> Path:
    root.mkdir(parents=True)
    accounts = [
        (MULE, "H-mule", "2016-08-20", "personal"),
        (COLLECTOR, "H-collector", "2014-01-01", "business"),
        (RESELLER, "H-reseller", "2016-08-20", "personal"),
        (SUPPLIER, "H-supplier", "2010-01-01", "business"),
        (SHOP, "H-shop", "2016-08-20", "personal"),
        (SHOP_OWN, "H-shop", "2012-01-01", "personal"),
        *((a, f"H-{a}", "2009-01-01", "business") for a in CIRCLE),
    ]
    payers = [f"P{i}" for i in range(9)]
    accounts += [(p, f"H-{p}", "2010-01-01", "personal") for p in payers]
    transfers: list[tuple[str, dt.datetime, str, str, str]] = []

    def pay(t: dt.datetime, payer: str, payee: str, amount: float) -> None:
        transfers.append((f"T{len(transfers) + 1:04d}", t, payer, payee, f"{amount:.2f}"))

    # Everyone's everyday life: a few payments of tens of euros to the shop down the road.
    for i, p in enumerate(payers):
        for k in range(4):
            pay(T0 - dt.timedelta(days=20 - k, hours=i), p, SUPPLIER, 40 + 5 * k)
    for i, p in enumerate(payers[:3]):  # their savings, into the mule, on within two hours
        t = T0 + dt.timedelta(days=i)
        pay(t, p, MULE, 6000 + 100 * i)
        pay(t + dt.timedelta(hours=2), MULE, COLLECTOR, 5900 + 100 * i)
    for i, p in enumerate(payers[3:6]):  # an order each, paid on to the supplier
        t = T0 + dt.timedelta(days=i, hours=3)
        pay(t, p, RESELLER, 90)
        pay(t + dt.timedelta(hours=2), RESELLER, SUPPLIER, 85)
    for i, p in enumerate(payers[6:]):  # big one-off payments, swept to the owner's account
        t = T0 + dt.timedelta(days=i, hours=5)
        pay(t, p, SHOP, 6000)
        pay(t + dt.timedelta(hours=2), SHOP, SHOP_OWN, 6000)
    for k in range(3):  # old firms settling up in a circle
        pay(T0 + dt.timedelta(days=2 * k), CIRCLE[k], CIRCLE[(k + 1) % 3], 500)

    with (root / "accounts.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "bank", "country", "holder_id", "holder_phone", "opened_on",
                    "kind"])  # fmt: skip
        w.writerows([a, "B1", "ES", h, "", opened, kind] for a, h, opened, kind in accounts)
    with (root / "transfers.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tx_id", "time", "payer_account", "payee_account", "amount", "currency",
                    "channel"])  # fmt: skip
        w.writerows([i, t.strftime("%Y-%m-%dT%H:%M:%SZ"), a, b, x, "EUR", "online"]
                    for i, t, a, b, x in transfers)  # fmt: skip
    (root / "holder.json").write_text(json.dumps({"country": "ES"}), encoding="utf-8")
    return root


def test_a_bank_alone_finds_the_mule_and_not_its_look_alikes(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    detect(_bank(tmp_path / "bank"), out)
    mules = flagged(out, "mule_account")
    assert MULE in mules
    assert "3 first-time payer" in mules[MULE]["reason"]
    assert "far more than they usually pay" in mules[MULE]["reason"]
    assert COLLECTOR in mules  # fed by the mule, and nothing else
    assert not {RESELLER, SUPPLIER, SHOP, SHOP_OWN, *CIRCLE} & set(mules)
    # the payments into the mule are fraud transfers, traced to their payers
    evidence = {e["record_id"] for e in read_rows(out / "evidence.csv") if e["value"] == MULE}
    assert {"T0037", "T0039", "T0041"} <= evidence


@pytest.mark.parametrize(("scenario", "seed", "scale"), [("hard", 2, 0.05), ("seed", 3, 0.02)])
def test_bank_only_views_score_mules_against_truth(
    tmp_path: Path, scenario: str, seed: int, scale: float
) -> None:
    case = tmp_path / "case"
    write_world(build_world(load_scenario(scenario, seed=seed, scale=scale)), case)
    views = single_holder_views(case)
    for holder, tables in SINGLE_HOLDERS.items():
        held = {p.name.split(".")[0] for p in views[holder].glob("*.parquet")}
        assert held == set(tables)
    out = tmp_path / "findings"
    detect(views["bank"], out)
    mules = evaluate(out, views["bank"]).kinds["mule_account"]
    assert mules.truth >= 10
    assert mules.f1 >= 0.8, mules


@needs_sample
def test_amlsim_cycle_accounts_are_found_from_money_alone(tmp_path: Path) -> None:
    assert SAMPLE is not None
    case = tmp_path / "case"
    ingest([str(SAMPLE / n) for n in ("accounts.csv", "tx.csv", "cash_tx.csv")], case, fmt="amlsim",
           holder_country="US")  # fmt: skip
    out = tmp_path / "findings"
    detect(case, out)
    labelled = amlsim_sar_accounts(SAMPLE)
    mules = flagged(out, "mule_account")
    assert labelled <= set(mules)
    assert len(labelled & set(mules)) / len(mules) >= 0.6
    assert sum("came back to it" in mules[a]["reason"] for a in labelled) >= 3
