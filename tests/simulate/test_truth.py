"""Ground truth agrees with the records: every fraud fact in truth/ is visible in the inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import phonenumbers
import pytest


def _e164(value: str, region: str) -> str | None:
    if value in ("", "anonymous", "unknown"):
        return None
    n = phonenumbers.parse(value, region)
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def _truth(case: Path, file: str) -> list[dict[str, str]]:
    with (case / "truth" / file).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _entities(case: Path, kind: str) -> set[str]:
    return {r["value"] for r in _truth(case, "entities.csv") if r["kind"] == kind}


@pytest.fixture(scope="module")
def db(small_case: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in ("carrier_cdr", "voip_cdr", "accounts", "transfers", "reports"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM '{small_case / name}.parquet'")
    return con


def test_every_truth_call_exists_in_its_source_table(
    small_case: Path, db: duckdb.DuckDBPyConnection
) -> None:
    calls = _truth(small_case, "calls.csv")
    assert {r["stage"] for r in calls} >= {"list_dial", "neighbor", "police", "official"}
    for source in ("carrier_cdr", "voip_cdr"):
        ids = {r["call_id"] for r in calls if r["source"] == source}
        assert ids
        known = {row[0] for row in db.execute(f"SELECT call_id FROM {source}").fetchall()}
        assert ids <= known, f"{len(ids - known)} truth calls missing from {source}"


def test_every_truth_transfer_exists(small_case: Path, db: duckdb.DuckDBPyConnection) -> None:
    rows = _truth(small_case, "transfers.csv")
    assert {r["kind"] for r in rows} == {"victim_payment", "layering", "cash_out"}
    known = {row[0] for row in db.execute("SELECT tx_id FROM transfers").fetchall()}
    assert {r["tx_id"] for r in rows} <= known


def test_every_paying_victim_paid_a_mule(small_case: Path, db: duckdb.DuckDBPyConnection) -> None:
    paid = _entities(small_case, "victim_paid")
    mules = _entities(small_case, "mule_account")
    payments = {r["tx_id"] for r in _truth(small_case, "transfers.csv")
                if r["kind"] == "victim_payment"}  # fmt: skip
    assert paid and mules and payments
    rows = db.execute("""
        SELECT t.tx_id, t.payee_account, a.holder_phone
        FROM transfers t JOIN accounts a ON a.account_id = t.payer_account
    """).fetchall()  # fmt: skip
    payers_of_mules = {_e164(phone, "CN") for tx, payee, phone in rows
                       if payee in mules and tx in payments}  # fmt: skip
    assert paid <= payers_of_mules


def test_lines_addresses_and_numbers_appear_in_the_records(
    small_case: Path, db: duckdb.DuckDBPyConnection
) -> None:
    voip = db.execute("SELECT DISTINCT sip_account, source_ip FROM voip_cdr").fetchall()
    assert _entities(small_case, "sip_account") <= {a for a, _ in voip}
    assert _entities(small_case, "source_ip") <= {ip for _, ip in voip}
    shown = {_e164(v, "CN") for (v,) in db.execute(
        "SELECT DISTINCT caller_number FROM carrier_cdr").fetchall()}  # fmt: skip
    shown |= {_e164(v, "ES") for (v,) in db.execute(
        "SELECT DISTINCT from_number FROM voip_cdr").fetchall()}  # fmt: skip
    assert _entities(small_case, "caller_number") <= shown
    answered = {_e164(v, "CN") for (v,) in db.execute(
        "SELECT DISTINCT called_number FROM carrier_cdr WHERE answered").fetchall()}  # fmt: skip
    answered |= {_e164(v, "ES") for (v,) in db.execute(
        "SELECT DISTINCT to_number FROM voip_cdr WHERE sip_status = 200").fetchall()}  # fmt: skip
    assert _entities(small_case, "victim_phone") <= answered
    assert _entities(small_case, "victim_paid") <= _entities(small_case, "victim_phone")


def test_centers_and_networks_are_labelled_consistently(small_case: Path) -> None:
    scenario = json.loads((small_case / "truth" / "scenario.json").read_text())
    centers = {c["center_id"]: c["network_id"] for c in scenario["centers"]}
    assert len(centers) == 16 and set(centers.values()) == {"N1", "N2"}
    for r in _truth(small_case, "entities.csv"):
        if r["center_id"]:
            assert centers[r["center_id"]] == r["network_id"], r


def test_money_reaches_mules_within_hours_and_is_cashed_out(
    small_case: Path, db: duckdb.DuckDBPyConnection
) -> None:
    truth = {r["tx_id"]: r["kind"] for r in _truth(small_case, "transfers.csv")}
    rows = db.execute("SELECT tx_id, channel FROM transfers").fetchall()
    cash_out_channels = {ch for tx, ch in rows if truth.get(tx) == "cash_out"}
    assert cash_out_channels == {"atm", "international"}
    mules = _entities(small_case, "mule_account")
    opened = db.execute("SELECT account_id, opened_on FROM accounts").fetchall()
    layer1 = {r["value"] for r in _truth(small_case, "entities.csv") if r["role"] == "layer1"}
    fresh = [d for a, d in opened if a in layer1]
    assert fresh and all(str(d) >= "2016-05-01" for d in fresh)  # opened just before use
    assert layer1 <= mules


def test_reports_name_real_victims_and_mostly_real_fraud(
    small_case: Path, db: duckdb.DuckDBPyConnection
) -> None:
    victims = _entities(small_case, "victim_phone")
    callers = _entities(small_case, "caller_number")
    rows = db.execute("SELECT victim_phone, reported_numbers FROM reports").fetchall()
    assert rows
    assert sum(_e164(v, "CN") in victims for v, _ in rows) >= 0.8 * len(rows)
    named = [_e164(n, "CN") for _, ns in rows for n in ns.split(";") if n]
    assert named
    right = sum(n in callers for n in named)
    assert 0.6 * len(named) <= right < len(named) or len(named) < 10


def test_transcripts_are_keyed_to_calls_and_labelled(small_case: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(small_case / "transcripts.parquet").to_pylist()
    kinds = {(r["source"], r["call_id"]): r["kind"] for r in _truth(small_case, "transcripts.csv")}
    stages = {(r["source"], r["call_id"]): r["stage"] for r in _truth(small_case, "calls.csv")}
    assert len(kinds) == len(table)
    # Victims' side in Chinese; the VoIP provider's home customers speak Spanish.
    assert {r["language"] for r in table} == {"zh", "es"}
    assert all(r["source"] == "voip_cdr" for r in table if r["language"] == "es")
    # Cut-short list-dialling calls say little; every longer call reads differently.
    texts = [r["text"] for r in table if kinds[(r["source"], r["call_id"])] != "list_dial"]
    assert len(set(texts)) > 0.95 * len(texts)
    for r in table:
        key = (r["source"], r["call_id"])
        kind = kinds[key]
        assert (key in stages) == (not kind.startswith("normal_")), key
        if key in stages:
            assert stages[key] == kind
    assert {k for k in kinds.values() if not k.startswith("normal_")} >= {"police", "official"}
