"""Whole-world properties: determinism, the confounders, the naive rules, the country pair."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import iptocc
import numpy as np
import pyarrow.parquet as pq
import pytest
import schwifty

from scamtrace.simulate.calls import Category
from scamtrace.simulate.world import World
from tests.conftest import make_case


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }  # fmt: skip


def test_same_seed_same_folder_byte_for_byte(tmp_path: Path, small_case: Path) -> None:
    again = make_case(tmp_path, "again", "small", seed=1)
    assert _digest(again) == _digest(small_case)
    other = make_case(tmp_path, "other", "small", seed=3)
    differing = [k for k, v in _digest(other).items() if _digest(small_case).get(k) != v]
    assert "carrier_cdr.parquet" in differing and "truth/entities.csv" in differing


def test_every_confounder_population_is_present(small_world: World) -> None:
    # The domestic look-alikes of SIM-box lines live in the simbox preset
    # (tests/simulate/test_sim_box.py checks them there).
    domestic = (Category.SALES_TEAM, Category.ROAMER, Category.DRIVER)
    categories = set(np.unique(small_world.calls.category).tolist())
    assert categories >= {int(c) for c in Category if c not in (Category.NORMAL, *domestic)}


def test_honest_lookalikes_are_visible_in_the_records(small_case: Path) -> None:
    con = duckdb.connect()
    truth = f"'{small_case}/truth/entities.csv'"
    # Emigrants and foreign call centers: SIP accounts calling China that are not fraud.
    honest_lines = con.execute(f"""
        SELECT count(DISTINCT sip_account) FROM '{small_case}/voip_cdr.parquet'
        WHERE (to_number LIKE '+86%' OR to_number LIKE '0086%')
          AND sip_account NOT IN (SELECT value FROM {truth} WHERE kind = 'sip_account')
    """).fetchone()[0]  # fmt: skip
    fraud_lines = con.execute(f"SELECT count(*) FROM {truth} WHERE kind='sip_account'").fetchone()[
        0
    ]
    assert honest_lines > 2 * fraud_lines
    # Shops and landlords: many distinct payers, not mules.
    busy_honest = con.execute(f"""
        SELECT count(*) FROM (
          SELECT payee_account FROM '{small_case}/transfers.parquet'
          WHERE payer_account <> '' AND payee_account <> ''
          GROUP BY payee_account HAVING count(DISTINCT payer_account) > 20)
        WHERE payee_account NOT IN (SELECT value FROM {truth} WHERE kind = 'mule_account')
    """).fetchone()[0]  # fmt: skip
    assert busy_honest > 20
    # Fresh honest accounts opened during the period that collect from several payers.
    fresh = con.execute(f"""
        SELECT count(*) FROM '{small_case}/accounts.parquet' a
        WHERE opened_on >= DATE '2016-07-01'
          AND account_id NOT IN (SELECT value FROM {truth} WHERE kind = 'mule_account')
    """).fetchone()[0]  # fmt: skip
    assert fresh > 0
    # Telemarketers: domestic numbers with dozens of calls a day.
    telemarketing = con.execute(f"""
        SELECT count(*) FROM (
          SELECT caller_number, CAST(start_time AS DATE) d, count(*) n
          FROM '{small_case}/carrier_cdr.parquet' WHERE ingress_country = 'CN'
          GROUP BY 1, 2 HAVING n > 10)
    """).fetchone()[0]  # fmt: skip
    assert telemarketing > 0


def test_center_addresses_belong_to_the_centers_country(small_case: Path) -> None:
    ips = [r["value"] for r in _entities(small_case) if r["kind"] == "source_ip"]
    assert ips and set(iptocc.country_code(ips)) == {"ES"}


def _entities(case: Path) -> list[dict[str, str]]:
    import csv

    with (case / "truth" / "entities.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(("scenario", "seed"), [("seed", 0), ("seed", 4), ("hard", 0), ("hard", 5)])
def test_naive_rules_stay_under_half_f1(tmp_path: Path, scenario: str, seed: int) -> None:
    # A tenth of the population over the whole period: the same shape as the full case.
    case = make_case(tmp_path, scenario, scenario, seed=seed, scale=0.1)
    report = json.loads((case / "truth" / "scenario.json").read_text())
    assert len(report["naive_rules"]) == 3
    for rule in report["naive_rules"]:
        assert rule["f1"] < 0.5, rule
    # Recompute the foreign-IP rule independently from the case folder itself.
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT DISTINCT sip_account, source_ip FROM '{case}/voip_cdr.parquet'
        WHERE to_number LIKE '+86%' OR to_number LIKE '0086%'""").fetchall()  # fmt: skip
    countries = iptocc.country_code([ip for _, ip in rows])
    flagged = {a for (a, _), c in zip(rows, countries, strict=True) if c != "CN"}
    truth = {r["value"] for r in _entities(case) if r["kind"] == "sip_account"}
    precision = len(flagged & truth) / len(flagged)
    recall = len(flagged & truth) / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    reported = next(r for r in report["naive_rules"] if r["rule"] == "foreign_ip")
    assert f1 == pytest.approx(reported["f1"], abs=1e-3)


def test_reversed_country_pair_spanish_victims(tmp_path: Path) -> None:
    case = make_case(tmp_path, "es", "es-victims", seed=2, scale=0.01)
    holder = json.loads((case / "holder.json").read_text())
    assert holder == {"country": "ES", "tables": {"voip_cdr": "CN"}}
    accounts = pq.read_table(case / "accounts.parquet").column("account_id").to_pylist()
    assert all(a.startswith("ES") for a in accounts[:200])
    for a in accounts[:200]:
        schwifty.IBAN(a, validate_bban=True)
    victims = [r["value"] for r in _entities(case) if r["kind"] == "victim_phone"]
    assert victims and all(v.startswith("+34") for v in victims)
    ips = [r["value"] for r in _entities(case) if r["kind"] == "source_ip"]
    assert set(iptocc.country_code(ips)) == {"CN"}
    currencies = set(pq.read_table(case / "transfers.parquet").column("currency").to_pylist())
    assert currencies == {"EUR"}
